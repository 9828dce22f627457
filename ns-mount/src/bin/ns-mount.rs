fn main() -> std::process::ExitCode {
    ns_mount::mount_main(std::env::args_os())
}
