use std::process::ExitCode;

fn main() -> ExitCode {
    ns_chroot::main(std::env::args_os())
}
