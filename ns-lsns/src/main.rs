use std::process::ExitCode;

fn main() -> ExitCode {
    ns_lsns::main(std::env::args_os())
}
