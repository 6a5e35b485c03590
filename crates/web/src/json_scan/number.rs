//! Whether a JSON number token survives serde_json unchanged: integers must fit `i64`/`u64`,
//! other numbers must print back (as the shortest representation of their `f64`) as the same
//! decimal, compared in canonical form. Parsing and printing go through serde_json itself.

/// Whether serde_json keeps this number token exactly (see the module doc). A token that is
/// not a JSON number at all passes: the deserializer reports it as a syntax error.
pub fn number_round_trips(token: &[u8]) -> bool {
    if !is_json_number(token) {
        return true;
    }
    let is_integer = !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
    if is_integer {
        return integer_fits(token);
    }
    let decimal = Decimal::parse(token);
    if decimal.as_ref().is_some_and(Decimal::surely_exact) {
        return true;
    }
    let Ok(value) = serde_json::from_slice::<f64>(token) else {
        // Out of range (`1e400`).
        return false;
    };
    // serde_json writes floats with ryu's shortest representation: at most 24 bytes.
    let mut buffer = [0u8; 32];
    let mut out = &mut buffer[..];
    if serde_json::to_writer(&mut out, &value).is_err() {
        return false;
    }
    let written = 32 - out.len();
    decimal == Decimal::parse(&buffer[..written])
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, the JSON number grammar.
fn is_json_number(token: &[u8]) -> bool {
    let mut rest = token.strip_prefix(b"-").unwrap_or(token);
    let digits = |rest: &mut &[u8]| {
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        *rest = &rest[n..];
        n
    };
    match rest.first() {
        Some(b'0') => rest = &rest[1..],
        Some(b'1'..=b'9') => {
            digits(&mut rest);
        }
        _ => return false,
    }
    if let Some(after) = rest.strip_prefix(b".") {
        rest = after;
        if digits(&mut rest) == 0 {
            return false;
        }
    }
    if let Some((b'e' | b'E', after)) = rest.split_first() {
        rest = after
            .strip_prefix(b"+")
            .or(after.strip_prefix(b"-"))
            .unwrap_or(after);
        if digits(&mut rest) == 0 {
            return false;
        }
    }
    rest.is_empty()
}

/// Whether an integer token fits `i64` (negative) or `u64` (otherwise).
fn integer_fits(token: &[u8]) -> bool {
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    let mut magnitude: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return false;
        }
        magnitude = match magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(digit - b'0')))
        {
            Some(m) => m,
            None => return false,
        };
    }
    !negative || magnitude <= i64::MIN.unsigned_abs()
}

/// A decimal number in canonical form, borrowing its digits from the token.
#[derive(Debug)]
enum Decimal<'a> {
    Zero,
    NonZero {
        negative: bool,
        /// The mantissa from its first to its last non-zero digit (may include the `.`).
        digits: &'a [u8],
        /// Scientific exponent: the value is `d.ddd × 10^exponent`.
        exponent: i64,
    },
}

impl<'a> Decimal<'a> {
    /// Parses `-?digits(.digits)?([eE][+-]?digits)?`; `None` for anything else.
    fn parse(token: &'a [u8]) -> Option<Self> {
        let (negative, rest) = match token.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, token),
        };
        let (mantissa, exponent) = match rest.iter().position(|b| matches!(b, b'e' | b'E')) {
            Some(e) => (&rest[..e], parse_exponent(&rest[e + 1..])?),
            None => (rest, 0),
        };
        let integer_digits = mantissa
            .iter()
            .position(|&b| b == b'.')
            .unwrap_or(mantissa.len()) as i64;
        if mantissa.is_empty() || !mantissa.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
            return None;
        }
        let Some(first) = mantissa.iter().position(|b| matches!(b, b'1'..=b'9')) else {
            return Some(Decimal::Zero);
        };
        let last = mantissa.iter().rposition(|b| matches!(b, b'1'..=b'9'))?;
        // Digits before the first significant one, not counting the `.`.
        let leading = first as i64 - i64::from(mantissa[..first].contains(&b'.'));
        Some(Decimal::NonZero {
            negative,
            digits: &mantissa[first..=last],
            exponent: exponent.saturating_add(integer_digits - 1 - leading),
        })
    }
}

impl Decimal<'_> {
    /// The fast path for the numbers clients actually send: at most 15 significant digits
    /// (`f64::DIGITS`: such decimals map to distinct doubles, so the shortest representation
    /// of the double is the decimal itself) and far from underflow and overflow.
    fn surely_exact(&self) -> bool {
        match self {
            Decimal::Zero => true,
            Decimal::NonZero {
                digits, exponent, ..
            } => {
                digits.iter().filter(|&&b| b != b'.').count() <= f64::DIGITS as usize
                    && (-307..=307).contains(exponent)
            }
        }
    }
}

impl PartialEq for Decimal<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Decimal::Zero, Decimal::Zero) => true,
            (
                Decimal::NonZero {
                    negative: a_negative,
                    digits: a_digits,
                    exponent: a_exponent,
                },
                Decimal::NonZero {
                    negative: b_negative,
                    digits: b_digits,
                    exponent: b_exponent,
                },
            ) => {
                a_negative == b_negative
                    && a_exponent == b_exponent
                    && a_digits
                        .iter()
                        .filter(|&&b| b != b'.')
                        .eq(b_digits.iter().filter(|&&b| b != b'.'))
            }
            _ => false,
        }
    }
}

/// `[+-]?digits`, saturating far beyond any `f64` exponent.
fn parse_exponent(token: &[u8]) -> Option<i64> {
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, token),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().fold(0i64, |acc, &d| {
        acc.saturating_mul(10)
            .saturating_add(i64::from(d - b'0'))
            .min(1 << 40)
    });
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_decimals_ignore_spelling_but_not_value() {
        let d = |s: &'static str| Decimal::parse(s.as_bytes()).unwrap();
        assert_eq!(d("1.5e3"), d("1500.0"));
        assert_eq!(d("0.001"), d("1e-3"));
        assert_eq!(d("-0"), d("0.0"));
        assert_ne!(d("1.5e3"), d("1.5e4"));
        assert_ne!(d("15"), d("-15"));
        assert_ne!(d("1.25"), d("1.2"));
    }
}
