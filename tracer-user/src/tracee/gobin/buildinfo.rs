//! The `.go.buildinfo` blob: Go toolchain version and module information.
//!
//! Format (read from go1.27.3 `src/debug/buildinfo/buildinfo.go`,
//! unchanged since go1.18): a 16-byte aligned 32-byte header starting with
//! `"\xff Go buildinf:"`, then ptrSize (u8) and flags (u8). With flag bit
//! 0x2 (always set since go1.18) the header is followed by two
//! varint-length-prefixed strings: the Go version and the modinfo text. The
//! modinfo text is framed by 16-byte sentinels and parsed like
//! `runtime/debug.ParseBuildInfo` (go1.27.3 `src/runtime/debug/mod.go`).

use super::bytes;
use super::GoBinError;

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: usize = 16;
const FLAGS_OFFSET: usize = 15;
const FLAG_VERSION_INLINE: u8 = 0x2;
const SENTINEL_LEN: usize = 16;

/// What `go version -m` prints about a binary.
#[derive(Clone, Debug, Default)]
pub struct BuildInfo {
    /// Toolchain version, e.g. "go1.23.9".
    pub go_version: String,
    /// The "path" line: import path of the main package.
    pub main_path: String,
    /// The "mod" line: module path of the main module.
    pub main_module: String,
    /// Module paths of the "dep" lines (replacements are not followed).
    pub deps: Vec<String>,
    /// The "build" lines, unquoted: -ldflags, CGO_ENABLED, GOEXPERIMENT, ...
    pub settings: Vec<(String, String)>,
}

impl BuildInfo {
    /// (major, minor) of the toolchain, e.g. (1, 23) for "go1.23.9". Also
    /// accepts "go1.22rc1", "devel go1.25-abcdef ..." and "go1.24.0 X:...".
    pub fn version(&self) -> Option<(u32, u32)> {
        parse_go_version(&self.go_version)
    }

    /// Value of a "build" setting, e.g. `setting("CGO_ENABLED") == Some("1")`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub fn parse_go_version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim();
    let v = v.strip_prefix("devel ").unwrap_or(v);
    let rest = v.strip_prefix("go")?;
    let (major, rest) = leading_number(rest)?;
    let rest = rest.strip_prefix('.')?;
    let (minor, _) = leading_number(rest)?;
    Some((major, minor))
}

fn leading_number(s: &str) -> Option<(u32, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let num = s.get(..n)?.parse().ok()?;
    Some((num, s.get(n..)?))
}

/// Offset of the build info header inside `region`, scanning the 16-byte
/// aligned positions (`region` must start 16-byte aligned in the file, which
/// holds for sections, segments and the whole file).
pub fn find(region: &[u8]) -> Option<usize> {
    (0..region.len())
        .step_by(ALIGN)
        .find(|&off| region.get(off..).is_some_and(|r| r.starts_with(MAGIC)))
}

/// Parses the blob starting at the magic. `blob` may extend past the end of
/// the build info (it usually is the rest of the section or segment).
pub fn parse_blob(blob: &[u8]) -> Result<BuildInfo, GoBinError> {
    let header = bytes::slice(blob, 0, HEADER_SIZE)
        .ok_or_else(|| GoBinError::Corrupt("build info header truncated".into()))?;
    if !header.starts_with(MAGIC) {
        return Err(GoBinError::NotGo("no Go build info header".into()));
    }
    if header[FLAGS_OFFSET] & FLAG_VERSION_INLINE == 0 {
        // Pointer-style build info: written by go1.17 and older only.
        return Err(GoBinError::Unsupported(
            "build info of Go older than 1.18".into(),
        ));
    }
    let (version, after) = read_varstring(blob, HEADER_SIZE)
        .ok_or_else(|| GoBinError::Corrupt("build info version string truncated".into()))?;
    let (modinfo, _) = read_varstring(blob, after)
        .ok_or_else(|| GoBinError::Corrupt("build info module string truncated".into()))?;
    let go_version = bytes::string_lossy(version);
    // Other programs may contain the magic string too (this module does):
    // only accept what looks like a Go version ("go1.x", "devel ...").
    if !(go_version.starts_with("go") || go_version.starts_with("devel")) || go_version.len() > 256
    {
        return Err(GoBinError::NotGo("no Go version in build info".into()));
    }
    let mut info = BuildInfo {
        go_version,
        ..BuildInfo::default()
    };
    parse_modinfo(&strip_sentinels(modinfo), &mut info);
    Ok(info)
}

/// Varint length + bytes at `off`; returns the bytes and the offset after them.
fn read_varstring(data: &[u8], off: usize) -> Option<(&[u8], usize)> {
    let (len, n) = bytes::uvarint(data.get(off..)?)?;
    let start = off.checked_add(n)?;
    let s = bytes::slice(data, start, bytes::to_usize(len)?)?;
    Some((s, start + s.len()))
}

/// The modinfo string is framed by two 16-byte sentinels (cmd/go
/// `modload.infoStart`/`infoEnd`); without them it is not module info.
fn strip_sentinels(m: &[u8]) -> String {
    if m.len() > 2 * SENTINEL_LEN && m[m.len() - SENTINEL_LEN - 1] == b'\n' {
        bytes::string_lossy(&m[SENTINEL_LEN..m.len() - SENTINEL_LEN])
    } else {
        String::new()
    }
}

/// Lenient version of `runtime/debug.ParseBuildInfo`: malformed lines are
/// skipped instead of failing the whole binary, since the tracer only uses
/// this information for display and heuristics.
pub fn parse_modinfo(text: &str, info: &mut BuildInfo) {
    for line in text.split('\n') {
        let mut cols = line.split('\t');
        let kind = cols.next().unwrap_or("");
        let first = cols.next();
        match (kind, first) {
            ("path", Some(p)) => info.main_path = p.to_string(),
            ("mod", Some(p)) => info.main_module = p.to_string(),
            ("dep", Some(p)) => info.deps.push(p.to_string()),
            ("build", Some(_)) => {
                // The key=value part is everything after "build\t": it may
                // contain tabs inside quotes.
                if let Some(kv) = line.strip_prefix("build\t") {
                    if let Some(setting) = parse_setting(kv) {
                        info.settings.push(setting);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `key=value` where key and value may be Go-quoted (`strconv.Quote`).
fn parse_setting(kv: &str) -> Option<(String, String)> {
    let (key, raw_value) = if kv.starts_with('"') || kv.starts_with('`') {
        let end = quoted_prefix_len(kv)?;
        let key = go_unquote(kv.get(..end)?)?;
        (key, kv.get(end..)?.strip_prefix('=')?)
    } else {
        let (k, v) = kv.split_once('=')?;
        (k.to_string(), v)
    };
    if key.is_empty() {
        return None;
    }
    let value = if raw_value.starts_with('"') || raw_value.starts_with('`') {
        go_unquote(raw_value).unwrap_or_else(|| raw_value.to_string())
    } else {
        raw_value.to_string()
    };
    Some((key, value))
}

/// Length of the quoted string at the start of `s` (like
/// `strconv.QuotedPrefix`), including both quotes.
fn quoted_prefix_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let q = *b.first()?;
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' if q == b'"' => i += 2,
            c if c == q => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// `strconv.Unquote` for double-quoted and back-quoted strings. Returns `None`
/// for malformed input.
pub fn go_unquote(s: &str) -> Option<String> {
    if let Some(inner) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return (!inner.contains('`')).then(|| inner.to_string());
    }
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c != b'\\' {
            if c == b'"' {
                return None;
            }
            out.push(c);
            i += 1;
            continue;
        }
        let esc = *b.get(i + 1)?;
        i += 2;
        let simple = match esc {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => Some(b'\''),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        match esc {
            b'x' => {
                out.push(u8::from_str_radix(inner.get(i..i + 2)?, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                out.push(u8::from_str_radix(inner.get(i - 1..i + 2)?, 8).ok()?);
                i += 2;
            }
            b'u' | b'U' => {
                let n = if esc == b'u' { 4 } else { 8 };
                let cp = u32::from_str_radix(inner.get(i..i + n)?, 16).ok()?;
                let ch = char::from_u32(cp)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += n;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.push(8); // ptrSize
        b.push(FLAG_VERSION_INLINE);
        b.resize(HEADER_SIZE, 0);
        for s in [version.as_bytes(), modinfo.as_bytes()] {
            let mut n = s.len();
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                b.push(if n > 0 { byte | 0x80 } else { byte });
                if n == 0 {
                    break;
                }
            }
            b.extend_from_slice(s);
        }
        b
    }

    #[test]
    fn parses_modinfo_with_sentinels_and_quotes() {
        let sentinel = "0123456789abcdef";
        let text = format!(
            "{sentinel}path\texample.com/x/cmd\nmod\texample.com/x\t(devel)\t\n\
             dep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n=>\t../sys\t\t\n\
             build\t-ldflags=\"-s -w \\\"q\\\"\"\nbuild\tCGO_ENABLED=0\n\
             build\t\"we=ird\"=`raw`\nbuild\tbroken\n{sentinel}"
        );
        let bi = parse_blob(&blob("go1.23.9", &text)).expect("parse");
        assert_eq!(bi.go_version, "go1.23.9");
        assert_eq!(bi.version(), Some((1, 23)));
        assert_eq!(bi.main_path, "example.com/x/cmd");
        assert_eq!(bi.main_module, "example.com/x");
        assert_eq!(bi.deps, vec!["golang.org/x/sys".to_string()]);
        assert_eq!(bi.setting("-ldflags"), Some("-s -w \"q\""));
        assert_eq!(bi.setting("CGO_ENABLED"), Some("0"));
        assert_eq!(bi.setting("we=ird"), Some("raw"));
        assert_eq!(bi.setting("broken"), None);
    }

    #[test]
    fn modinfo_without_sentinels_is_ignored() {
        let bi = parse_blob(&blob("go1.21.13", "path\tx\n")).expect("parse");
        assert_eq!(bi.main_path, "");
    }

    #[test]
    fn versions() {
        assert_eq!(parse_go_version("go1.21.13"), Some((1, 21)));
        assert_eq!(parse_go_version("go1.22rc1"), Some((1, 22)));
        assert_eq!(parse_go_version("devel go1.25-abc Mon"), Some((1, 25)));
        assert_eq!(parse_go_version("go1.24.0 X:boringcrypto"), Some((1, 24)));
        assert_eq!(parse_go_version("gccgo"), None);
    }

    #[test]
    fn unquote() {
        assert_eq!(
            go_unquote(r#""a\tb\x41\101\u00e9""#).as_deref(),
            Some("a\tbAAé")
        );
        assert_eq!(go_unquote(r#""unterminated"#), None);
        assert_eq!(go_unquote(r#""bad\q""#), None);
        assert_eq!(go_unquote("`raw\\n`").as_deref(), Some("raw\\n"));
    }

    #[test]
    fn find_is_aligned_and_truncation_safe() {
        let mut region = vec![0u8; 48];
        region.extend_from_slice(&blob("go1.21.1", ""));
        assert_eq!(find(&region), Some(48));
        for cut in 0..region.len() {
            let _ = find(&region[..cut]).map(|o| parse_blob(&region[o..cut]));
        }
    }
}
