//! A JSON syntax check (RFC 8259) that never builds values: no recursion (nesting depth is
//! bounded only by memory, one byte per open container), no number conversion (`1e400` and
//! integers past 2^64 are valid text), duplicate keys allowed. Mode `json` uses it to accept a
//! body and then returns the stored text unchanged, so nothing about the text is lost.

/// Checks that `b` is one JSON value with optional surrounding whitespace.
pub fn validate(b: &[u8]) -> Result<(), String> {
    let mut p = Parser { b, i: 0, stack: Vec::new() };
    p.document()
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    /// Open containers: `b'['` or `b'{'`.
    stack: Vec<u8>,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected `{}`", c as char)))
        }
    }

    fn document(&mut self) -> Result<(), String> {
        self.ws();
        self.value()?;
        loop {
            // After a value: close containers or continue them.
            self.ws();
            let Some(&top) = self.stack.last() else { break };
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                    if top == b'{' {
                        self.key()?;
                    }
                    self.value()?;
                }
                Some(b']') if top == b'[' => {
                    self.i += 1;
                    self.stack.pop();
                }
                Some(b'}') if top == b'{' => {
                    self.i += 1;
                    self.stack.pop();
                }
                _ => return Err(self.err("expected `,` or the end of the container")),
            }
        }
        if self.i != self.b.len() {
            return Err(self.err("trailing characters"));
        }
        Ok(())
    }

    /// `"key" :` with whitespace.
    fn key(&mut self) -> Result<(), String> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a string key"));
        }
        self.string()?;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Ok(())
    }

    /// One value; an opened container is left on the stack (its first member read too, or it
    /// is closed at once when empty).
    fn value(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(b'"') => return self.string(),
                Some(b'[') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        return Ok(());
                    }
                    self.stack.push(b'[');
                }
                Some(b'{') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Ok(());
                    }
                    self.stack.push(b'{');
                    self.key()?;
                }
                Some(b't') => return self.literal(b"true"),
                Some(b'f') => return self.literal(b"false"),
                Some(b'n') => return self.literal(b"null"),
                Some(b'-' | b'0'..=b'9') => return self.number(),
                _ => return Err(self.err("expected a value")),
            }
        }
    }

    fn literal(&mut self, l: &[u8]) -> Result<(), String> {
        if self.b[self.i..].starts_with(l) {
            self.i += l.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number: no digits after `.`"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number: no exponent digits"));
            }
        }
        Ok(())
    }

    fn string(&mut self) -> Result<(), String> {
        self.expect(b'"')?;
        loop {
            // Runs of plain characters: anything but `"`, `\` and controls (UTF-8 is checked by
            // the caller on the whole body).
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                    return Err(self.err("invalid \\u escape"));
                                }
                                self.i += 1;
                            }
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_what_json_allows_at_any_depth() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep_obj = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
        for ok in [
            "0", "-0", "1.5e-7", "0.42451918914251396", "12345678901234567890123", "[1e400]", "-1E+2",
            " {\"a\":1,\"a\":2} ", "\"\\u00e9\\ud83d\\ude00\\n\\/\"", "[]", "{}", "[[],{}]", "null", "true",
            "{\"a\":[1,{\"b\":null}],\"c\":\"x\"}", "\"é\"", &deep, &deep_obj,
        ] {
            assert_eq!(validate(ok.as_bytes()), Ok(()), "{:.60}", ok);
        }
    }

    #[test]
    fn refuses_what_it_does_not() {
        for bad in [
            "", " ", "01", "1.", ".5", "1e", "+1", "-", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}",
            "[1 2]", "\"\\x\"", "\"\\u12g4\"", "\"a\nb\"", "\"open", "[1]]", "[1}", "{\"a\":1]", "tru", "nul", "1 2",
            "[", "{", "NaN", "Infinity", "[1e400", "\u{feff}1",
        ] {
            assert!(validate(bad.as_bytes()).is_err(), "{bad:?} accepted");
        }
        let unclosed = "[".repeat(10_000);
        assert!(validate(unclosed.as_bytes()).is_err());
    }
}
