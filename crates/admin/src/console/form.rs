//! Forms as browsers send them (`application/x-www-form-urlencoded`), with
//! repeated names (checkboxes) kept.

/// A parsed form or query string.
#[derive(Debug, Clone, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> Self {
        Self(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// `text` encoded for a query string.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A query string of the non-empty pairs.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            q.append_pair(k, v);
        }
    }
    q.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_and_encoding_survive() {
        let form = FormData::parse(b"user=a%40b.c&user=x+y&user=&csrf=1");
        assert_eq!(form.all("user"), vec!["a@b.c", "x y"]);
        assert_eq!(form.get("csrf"), Some("1"));
        assert_eq!(form.get("none"), None);
        assert_eq!(query(&[("a", Some("1 2")), ("b", None)]), "a=1+2");
    }
}
