//! The reader: source text to [`Sexp`] trees, plain Rust data (the compiler turns them into
//! code, and `quote` into values).
//!
//! Syntax: integers, floats, `"strings"` (with `\n`, `\t`, `\\`, `\"`), `#t`, `#f`, symbols,
//! lists `( ... )` with an optional dotted tail, `'x` for `(quote x)`, and `;` comments.

use std::iter::Peekable;
use std::str::CharIndices;

/// A datum as read.
#[derive(Clone, Debug, PartialEq)]
pub enum Sexp {
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal.
    Str(String),
    /// A symbol.
    Sym(String),
    /// `#t` or `#f`.
    Bool(bool),
    /// A list: its elements and, for a dotted list, its tail.
    List(Vec<Sexp>, Option<Box<Sexp>>),
}

/// A top-level form and the line it starts on.
pub struct Form {
    /// Line number, from 1.
    pub line: usize,
    /// The form.
    pub sexp: Sexp,
}

/// Reads every form of `src`.
pub fn read_all(src: &str) -> Result<Vec<Form>, String> {
    let mut reader = Reader {
        chars: src.char_indices().peekable(),
        src,
        line: 1,
    };
    let mut forms = Vec::new();
    loop {
        reader.skip_space();
        let line = reader.line;
        match reader.read()? {
            Some(sexp) => forms.push(Form { line, sexp }),
            None => return Ok(forms),
        }
    }
}

struct Reader<'a> {
    chars: Peekable<CharIndices<'a>>,
    src: &'a str,
    line: usize,
}

impl Reader<'_> {
    fn next(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    /// Skips white space and comments.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c == ';' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.next();
                }
            } else if c.is_whitespace() {
                self.next();
            } else {
                break;
            }
        }
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("line {}: {what}", self.line))
    }

    /// The next datum, or `None` at the end of the input.
    fn read(&mut self) -> Result<Option<Sexp>, String> {
        self.skip_space();
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        match c {
            '(' => {
                self.next();
                self.list().map(Some)
            }
            ')' => self.error("unexpected `)`"),
            '\'' => {
                self.next();
                match self.read()? {
                    Some(quoted) => Ok(Some(Sexp::List(
                        vec![Sexp::Sym("quote".into()), quoted],
                        None,
                    ))),
                    None => self.error("nothing after `'`"),
                }
            }
            '"' => {
                self.next();
                self.string().map(Some)
            }
            _ => Ok(Some(self.atom())),
        }
    }

    /// The rest of a list, after its `(`.
    fn list(&mut self) -> Result<Sexp, String> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => return self.error("unclosed `(`"),
                Some(')') => {
                    self.next();
                    return Ok(Sexp::List(items, None));
                }
                _ => {}
            }
            let item = match self.read()? {
                Some(item) => item,
                None => return self.error("unclosed `(`"),
            };
            if item == Sexp::Sym(".".into()) {
                let tail = match self.read()? {
                    Some(tail) if !items.is_empty() => tail,
                    _ => return self.error("misplaced `.`"),
                };
                self.skip_space();
                if self.next() != Some(')') {
                    return self.error("expected `)` after the tail of a dotted list");
                }
                return Ok(Sexp::List(items, Some(Box::new(tail))));
            }
            items.push(item);
        }
    }

    /// The rest of a string literal, after its `"`.
    fn string(&mut self) -> Result<Sexp, String> {
        let mut text = String::new();
        loop {
            match self.next() {
                None => return self.error("unclosed string"),
                Some('"') => return Ok(Sexp::Str(text)),
                Some('\\') => match self.next() {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some(c @ ('\\' | '"')) => text.push(c),
                    _ => return self.error("unknown escape in a string"),
                },
                Some(c) => text.push(c),
            }
        }
    }

    /// A number, boolean or symbol.
    fn atom(&mut self) -> Sexp {
        let start = self.chars.peek().map_or(self.src.len(), |&(i, _)| i);
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if c.is_whitespace() || matches!(c, '(' | ')' | '\'' | '"' | ';') {
                break;
            }
            end = i + c.len_utf8();
            self.next();
        }
        let token = &self.src[start..end];
        if let Ok(i) = token.parse::<i64>() {
            Sexp::Int(i)
        } else if let Some(f) = token
            .parse::<f64>()
            .ok()
            .filter(|_| token.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.'))
        {
            Sexp::Float(f)
        } else {
            match token {
                "#t" => Sexp::Bool(true),
                "#f" => Sexp::Bool(false),
                _ => Sexp::Sym(token.to_string()),
            }
        }
    }
}
