pub fn resolve(_a: &crate::ast::Ast, _o: &crate::Options) -> (Option<crate::Script>, Vec<crate::Diagnostic>) { (None, vec![]) }
