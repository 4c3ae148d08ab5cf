//! The stable diagnostic codes of the frontend, one constant per kind of
//! error or warning, so tests, docs and `--message-format=json` users can
//! rely on them even when a message's wording changes.
//!
//! | code  | meaning |
//! |-------|---------|
//! | E0001 | unexpected character |
//! | E0002 | unterminated string literal |
//! | E0003 | invalid escape sequence in a string |
//! | E0004 | invalid or out-of-range number literal |
//! | E0005 | unterminated `/* */` comment |
//! | E0006 | unterminated embedded C `%{ … %}` |
//! | E0010 | malformed `@define` |
//! | E0011 | unknown macro or `@` construct |
//! | E0012 | macro called with the wrong number of arguments |
//! | E0013 | macro expansion too deep (recursive macro) |
//! | E0014 | malformed preprocessor conditional `%( … %? … %: … %)` |
//! | E0015 | invalid preprocessor condition |
//! | E0016 | tapset directory (`-I`) cannot be read |
//! | E0020 | syntax error: unexpected token |
//! | E0021 | nesting too deep |
//! | E0030 | unknown function |
//! | E0031 | wrong number of arguments |
//! | E0032 | type mismatch |
//! | E0033 | construct not supported by stapc |
//! | E0034 | duplicate definition |
//! | E0035 | unknown or invalid probe point |
//! | E0036 | invalid probe point argument |
//! | E0037 | variable used as array, statistic and scalar inconsistently |
//! | E0038 | array used with a different number of indexes |
//! | E0039 | invalid use of a statistic |
//! | E0040 | invalid format string or format arguments |
//! | E0041 | format string is not a literal |
//! | E0042 | missing or invalid script argument (`$1`, `@1`) |
//! | E0043 | unresolvable target variable (`$name`) |
//! | E0044 | not an lvalue |
//! | E0045 | `break`/`continue` outside a loop |
//! | E0046 | `return`/`next` in the wrong place |
//! | E0047 | a function that returns no value used as a value |
//! | E0048 | global initialiser is not a literal |
//! | E0049 | kernel probe calls a recursive function |
//! | E0050 | unknown variable in a construct that needs a declared one |
//! | E0051 | constant expression required |
//! | W0001 | global never used |
//! | W0002 | local assigned but never read |
//! | W0003 | variable read but never written |
//! | W0004 | unreachable code |
//! | W0005 | type could not be inferred; `long` assumed |
//! | W0006 | function never called |
//! | W0007 | unknown escape in a string, kept as written (`\.` is backslash, dot) |

pub const UNEXPECTED_CHAR: &str = "E0001";
pub const UNTERMINATED_STRING: &str = "E0002";
pub const BAD_ESCAPE: &str = "E0003";
pub const BAD_NUMBER: &str = "E0004";
pub const UNTERMINATED_COMMENT: &str = "E0005";
pub const UNTERMINATED_EMBEDDED: &str = "E0006";
pub const BAD_DEFINE: &str = "E0010";
pub const UNKNOWN_MACRO: &str = "E0011";
pub const MACRO_ARITY: &str = "E0012";
pub const MACRO_DEPTH: &str = "E0013";
pub const BAD_CONDITIONAL: &str = "E0014";
pub const BAD_TAPSET: &str = "E0016";
pub const BAD_CONDITION: &str = "E0015";
pub const SYNTAX: &str = "E0020";
pub const TOO_DEEP: &str = "E0021";
pub const UNKNOWN_FUNCTION: &str = "E0030";
pub const ARITY: &str = "E0031";
pub const TYPE_MISMATCH: &str = "E0032";
pub const UNSUPPORTED: &str = "E0033";
pub const DUPLICATE: &str = "E0034";
pub const BAD_POINT: &str = "E0035";
pub const BAD_POINT_ARG: &str = "E0036";
pub const KIND_CONFLICT: &str = "E0037";
pub const INDEX_ARITY: &str = "E0038";
pub const STATS_MISUSE: &str = "E0039";
pub const BAD_FORMAT: &str = "E0040";
pub const FORMAT_NOT_LITERAL: &str = "E0041";
pub const SCRIPT_ARG: &str = "E0042";
pub const TARGET_VAR: &str = "E0043";
pub const NOT_LVALUE: &str = "E0044";
pub const LOOP_CONTROL: &str = "E0045";
pub const MISPLACED_EXIT: &str = "E0046";
pub const VOID_VALUE: &str = "E0047";
pub const GLOBAL_INIT: &str = "E0048";
pub const KERNEL_RECURSION: &str = "E0049";
pub const UNKNOWN_VARIABLE: &str = "E0050";
pub const NOT_CONSTANT: &str = "E0051";
pub const UNUSED_GLOBAL: &str = "W0001";
pub const UNUSED_LOCAL: &str = "W0002";
pub const NEVER_WRITTEN: &str = "W0003";
pub const UNREACHABLE: &str = "W0004";
pub const DEFAULT_TYPE: &str = "W0005";
pub const UNUSED_FUNCTION: &str = "W0006";
pub const UNKNOWN_ESCAPE: &str = "W0007";

#[cfg(test)]
mod tests {
    /// Every code constant is unique and documented in the table above.
    #[test]
    fn codes_are_unique_and_documented() {
        let src = include_str!("codes.rs");
        let mut seen = std::collections::BTreeSet::new();
        for line in src.lines().filter(|l| l.starts_with("pub const ")) {
            let code = line.split('"').nth(1).unwrap_or_default();
            assert_eq!(code.len(), 5, "{line}");
            assert!(seen.insert(code.to_string()), "duplicate code {code}");
            assert!(
                src.contains(&format!("//! | {code} |")),
                "{code} missing from the table"
            );
        }
        assert!(seen.len() >= 40);
    }
}
