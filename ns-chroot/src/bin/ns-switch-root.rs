fn main() -> std::process::ExitCode {
    ns_chroot::switch_root::main(std::env::args_os())
}
