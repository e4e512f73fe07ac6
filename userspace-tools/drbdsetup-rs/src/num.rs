//! Numbers with unit suffixes, as drbd-utils' `new_strtoll`/`m_strtoll` read them.

/// Why a number was refused (`enum new_strtoll_errs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    MissingNumber,
    InvalidNumber,
    InvalidUnit,
    OutOfRange,
}

impl NumError {
    /// The message `m_strtoll` prints for `s`, and the exit code it exits with.
    pub fn message(self, s: &str) -> (String, i32) {
        match self {
            NumError::MissingNumber => ("missing number argument\n".into(), 100),
            NumError::InvalidNumber | NumError::InvalidUnit => {
                (format!("{s} is not a valid number\n"), 20)
            }
            NumError::OutOfRange => (format!("{s}: out of range\n"), 20),
        }
    }
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `sscanf(s, "%llu", ...)`: leading white space, an optional sign, decimal digits, with
/// `strtoull`'s saturation on overflow and wrap-around for a minus sign. Returns the value and
/// the number of bytes consumed, or `None` if no digits were found.
fn scan_llu(s: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = u64::from(s[i] - b'0');
        match v.checked_mul(10).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if overflow {
        u64::MAX
    } else if neg {
        v.wrapping_neg()
    } else {
        v
    };
    Some((v, i))
}

/// `new_strtoll(s, def_unit)`: a number with an optional unit suffix (`K/k`, `M/m`, `G/g`, `s`
/// for sectors), converted to the unit `def_unit` names (`'1'` bytes/plain, `'k'` KiB, `'s'`
/// sectors); conversions to a larger unit round up.
pub fn new_strtoll(s: &str, def_unit: char) -> Result<u64, NumError> {
    let mut shift: i32 = match def_unit {
        '1' | '\0' => 0,
        'K' | 'k' => -10,
        's' => -9,
        _ => return Err(NumError::InvalidNumber),
    };
    if s.is_empty() {
        return Err(NumError::MissingNumber);
    }
    let b = s.as_bytes();
    let (mut rv, used) = scan_llu(b).ok_or(NumError::InvalidNumber)?;
    let rest = &b[used..];
    match rest.len() {
        0 => return Ok(rv),
        1 => {}
        _ => return Err(NumError::InvalidNumber),
    }
    shift += match rest[0] {
        b'K' | b'k' => 10,
        b'M' | b'm' => 20,
        b'G' | b'g' => 30,
        b's' => 9,
        _ => return Err(NumError::InvalidUnit),
    };
    if shift < 0 {
        let sh = -shift;
        rv = rv.wrapping_add((1u64 << sh) - 1) >> sh;
        return Ok(rv);
    }
    if rv > (u64::MAX >> shift) {
        return Err(NumError::OutOfRange);
    }
    Ok(rv << shift)
}

/// `strtol(s, NULL, 10)` for a string of digits, returning `None` where C sets `errno`.
pub fn strtol_digits(s: &str) -> Option<i64> {
    s.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_scales() {
        assert_eq!(new_strtoll("250", 'k'), Ok(250));
        assert_eq!(new_strtoll("10M", 'k'), Ok(10240));
        assert_eq!(new_strtoll("1G", 's'), Ok(2 << 20));
        assert_eq!(new_strtoll("1000", 's'), Ok(1000));
        assert_eq!(new_strtoll("1000s", '1'), Ok(512_000));
        // Smaller unit than the field's: rounded up.
        assert_eq!(new_strtoll("1s", 'k'), Ok(1));
        assert_eq!(new_strtoll("3s", 'k'), Ok(2));
        assert_eq!(new_strtoll("-1", '1'), Ok(u64::MAX));
        assert_eq!(new_strtoll(" +7", '1'), Ok(7));
        assert_eq!(new_strtoll("99999999999999999999999", '1'), Ok(u64::MAX));
    }

    #[test]
    fn errors() {
        assert_eq!(new_strtoll("", '1'), Err(NumError::MissingNumber));
        assert_eq!(new_strtoll("abc", '1'), Err(NumError::InvalidNumber));
        assert_eq!(new_strtoll("12kb", '1'), Err(NumError::InvalidNumber));
        assert_eq!(new_strtoll("12x", '1'), Err(NumError::InvalidUnit));
        assert_eq!(new_strtoll("12 ", '1'), Err(NumError::InvalidUnit));
        assert_eq!(new_strtoll("0x10", '1'), Err(NumError::InvalidNumber));
        assert_eq!(
            new_strtoll("99999999999999999999G", 'k'),
            Err(NumError::OutOfRange)
        );
        assert_eq!(
            NumError::InvalidUnit.message("12x"),
            ("12x is not a valid number\n".to_string(), 20)
        );
        assert_eq!(NumError::MissingNumber.message("").1, 100);
    }
}
