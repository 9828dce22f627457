fn main() -> std::process::ExitCode {
    ns_chroot::pivot_root::main(std::env::args_os())
}
