fn main() -> std::process::ExitCode {
    ns_mount::umount_main(std::env::args_os())
}
