fn main() -> std::process::ExitCode {
    dk_core::tool::main::<wait_stable::WaitStable>()
}
