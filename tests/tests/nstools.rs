//! The multi-call binary acts as the tool named by argv[0], exactly as
//! that tool's own binary does.

use nstools_tests::{bin, differences, require_root, Stderr, TempDir, TestCommand};

/// Every tool name the multi-call binary answers to, with our binary.
fn applets() -> Vec<(String, String)> {
    let listed = TestCommand::new(bin("nstools")).arg("--list").run();
    listed.expect_code(0);
    let names: Vec<String> = listed.stdout.lines().map(str::to_string).collect();
    assert!(
        names.len() >= 2 && names.len().is_multiple_of(2),
        "{listed}"
    );
    names
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

#[test]
fn links_behave_as_the_tool_they_are_named_after() {
    let dir = TempDir::new("multicall");
    let mut failures = Vec::new();
    for (ours, reference) in applets() {
        for name in [&ours, &reference] {
            let link = dir.path().join(name);
            std::os::unix::fs::symlink(bin("nstools"), &link).expect("symlink");
            // Same arguments through the link and through the tool's own
            // binary under the same name: same status, output and messages.
            for args in [&["--version"][..], &["--bogus-option"][..], &["--help"][..]] {
                let multi = TestCommand::new(&link).args(args).run();
                let single = TestCommand::new(bin(&ours)).arg0(name).args(args).run();
                if let Some(difference) = differences(&multi, &single, Stderr::Identical) {
                    failures.push(format!("{name} {args:?}: {difference}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tool_as_first_argument() {
    let run = TestCommand::new(bin("nstools"))
        .args(["chroot", "/", "/bin/sh", "-c", "exit 7"])
        .run();
    run.expect_code(7);
    let run = TestCommand::new(bin("nstools"))
        .args(["chroot", "--bogus"])
        .run();
    run.expect_code(125);
    assert!(
        run.stderr
            .starts_with("chroot: unrecognized option '--bogus'"),
        "{run}"
    );
}

/// `nstools nsenter` enters (here our own UTS namespace, which changes
/// nothing) and runs the program, and speaks as nsenter.
#[test]
fn nsenter_as_first_argument() {
    if !require_root() {
        return;
    }
    let me = std::process::id().to_string();
    let run = TestCommand::new(bin("nstools"))
        .args(["nsenter", "-t", &me, "-u", "/bin/sh", "-c", "exit 7"])
        .run();
    run.expect_code(7);
    let run = TestCommand::new(bin("nstools"))
        .args(["nsenter", "-t", "0", "-u", "true"])
        .run();
    run.expect_code(1);
    assert_eq!(run.stderr, "nsenter: invalid PID argument\n", "{run}");
}

#[test]
fn unknown_tool_and_no_tool() {
    let run = TestCommand::new(bin("nstools")).arg("frobnicate").run();
    run.expect_code(127);
    assert!(run.stderr.contains("frobnicate: no such tool"), "{run}");
    let run = TestCommand::new(bin("nstools")).run();
    run.expect_code(1);
    assert!(run.stderr.starts_with("Usage: nstools TOOL"), "{run}");
}
