use std::process::ExitCode;

fn main() -> ExitCode {
    ns_bootstrap::main(std::env::args_os())
}
