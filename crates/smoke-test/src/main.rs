fn main() -> std::process::ExitCode {
    dk_core::tool::main::<smoke_test::SmokeTest>()
}
