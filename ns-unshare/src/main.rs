use std::process::ExitCode;

fn main() -> ExitCode {
    ns_unshare::main(std::env::args_os())
}
