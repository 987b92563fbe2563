//! Fuzz target: compiling arbitrary text never panics, and every program that compiles prints
//! to source that compiles back to an equal program (both as expression and as template).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(program) = tessera_expr::compile(src) {
        let printed = program.to_source();
        let again = tessera_expr::compile(&printed)
            .unwrap_or_else(|e| panic!("printed source does not compile: {e}\n{printed}"));
        assert_eq!(
            program, again,
            "round trip changed the program:\n{src}\n{printed}"
        );
    }
    if let Ok(program) = tessera_expr::compile_template(src) {
        let printed = program.to_source();
        let again = tessera_expr::compile_template(&printed)
            .unwrap_or_else(|e| panic!("printed template does not compile: {e}\n{printed}"));
        assert_eq!(program, again, "template round trip changed the program");
    }
});
