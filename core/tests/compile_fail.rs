//! Shape errors are compile errors: models whose layer shapes disagree must not build, and the
//! tutorial's types must.

#[test]
fn shape_mismatches_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/dense_into_wrong_dense.rs");
    t.compile_fail("tests/ui/flatten_wrong_product.rs");
    t.compile_fail("tests/ui/relu_wrong_width.rs");
    t.pass("tests/ui/pass/tutorial_types.rs");
}
