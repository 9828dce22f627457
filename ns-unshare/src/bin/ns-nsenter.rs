use std::process::ExitCode;

fn main() -> ExitCode {
    ns_unshare::nsenter::main(std::env::args_os())
}
