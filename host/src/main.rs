//! The `baton` binary: everything it does is in the library's [`baton::cli`].

fn main() -> std::process::ExitCode {
    baton::cli::main()
}
