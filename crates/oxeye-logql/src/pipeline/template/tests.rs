use super::*;

struct Data {
    labels: Vec<(&'static str, &'static str)>,
    line: &'static str,
    timestamp_ns: i64,
}

impl TemplateData for Data {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn all_labels(&self) -> Vec<(String, String)> {
        self.labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn line(&self) -> &str {
        self.line
    }

    fn timestamp_ns(&self) -> i64 {
        self.timestamp_ns
    }
}

fn data() -> Data {
    Data {
        labels: vec![("app", "api"), ("level", "warn"), ("status", "404"), ("path", "/users/42"), ("empty", "")],
        line: "GET /users/42 404",
        timestamp_ns: 1_705_314_645_000_000_000,
    }
}

fn run(source: &str) -> Result<String, String> {
    let template = Template::parse("line", source)?;
    let mut out = String::new();
    template.execute(&data(), &mut out)?;
    Ok(out)
}

#[test]
fn renders_fields_pipes_and_functions() {
    let f = |source: &str, want: &str| assert_eq!(run(source).as_deref(), Ok(want), "{source}");
    f("{{.app}} {{.missing}}|", "api |");
    f("{{ .level | ToUpper }}", "WARN");
    f("{{ .level | upper | lower | title }}", "Warn");
    f(r#"{{ .path | replace "/" "_" }}"#, "_users_42");
    f(r#"{{ Replace .path "/" "-" 1 }}"#, "-users/42");
    f(r#"{{ regexReplaceAll "(\\d+)" .path "<$1>" }}"#, "/users/<42>");
    f(r#"{{ regexReplaceAllLiteral "\\d+" .path "$1" }}"#, "/users/$1");
    f(r#"{{ .path | trimPrefix "/users" }} {{ TrimSuffix .path "/42" }}"#, "/42 /users");
    f(r#"{{ trunc 4 .path }} {{ trunc -2 .path }} {{ substr 1 6 .path }}"#, "/use 42 users");
    f(r#"{{ .empty | default "none" }} {{ .app | default "none" }}"#, "none api");
    f(r#"{{ if eq .status "404" }}missing{{ else if eq .status "500" }}error{{ else }}ok{{ end }}"#, "missing");
    f(r#"{{ if and (ne .level "info") (contains "users" .path) }}yes{{ end }}"#, "yes");
    f(r#"{{- if .empty -}} full {{- else -}} empty {{- end -}}"#, "empty");
    f("{{ __line__ }}", "GET /users/42 404");
    f("{{ __timestamp__ }}", "2024-01-15 10:30:45 +0000 UTC");
    f(
        r#"{{ __timestamp__ | date "2006-01-02T15:04:05Z07:00" }} {{ __timestamp__ | unixEpoch }}"#,
        "2024-01-15T10:30:45Z 1705314645",
    );
    f(r#"{{ printf "%s=%05.1f %d %q %x %-4s|" .app 3.14159 42 "a" 255 "b" }}"#, "api=003.1 42 \"a\" ff b   |");
    f(r#"{{ add 1 "2" 3 }} {{ sub 10 .status }} {{ div 7 2 }} {{ mod 7 2 }} {{ mul 2 3 4 }}"#, "6 -394 3 1 24");
    f(
        r#"{{ addf 0.1 0.2 }} {{ mulf 1.5 2 }} {{ divf 1 4 }} {{ ceil 1.2 }} {{ floor 1.8 }} {{ round 2.346 2 }}"#,
        "0.3 3 0.25 2 1 2.35",
    );
    f(r#"{{ max 1 5 3 }} {{ min 4 2 }} {{ int "42" }} {{ float64 "1.5" }}"#, "5 2 42 1.5");
    f(r#"{{ $x := .app }}{{ $x }}-{{ with .level }}{{ . }}{{ end }}"#, "api-warn");
    f(r#"{{ "aGVsbG8" | b64dec }} {{ "hello" | b64enc }}"#, "hello aGVsbG8=");
    f(r#"{{ urlencode "a b&c" }} {{ urldecode "a+b%26c" }}"#, "a+b%26c a b&c");
    f(r#"{{ alignLeft 5 .app }}|{{ alignRight 5 .app }}|{{ alignLeft 2 .app }}"#, "api  |  api|ap");
    f(r#"{{ count "[0-9]" .path }} {{ len .path }}"#, "2 9");
    f(r#"{{ duration "1m30s" }} {{ bytes "1KiB" }}"#, "90 1024");
    f(r#"{{ unixToTime "1705314645" | unixEpochMillis }}"#, "1705314645000");
    f(r#"{{ toDate "2006-01-02" "2024-01-15" | unixEpoch }}"#, "1705276800");
    f(r#"{{ repeat 2 "ab" }}{{ indent 2 "x" }}{{ hasPrefix "/u" .path }}"#, "abab  xtrue");
    f("{{/* a comment */}}x", "x");
    f(r#"{{ TrimSpace "  a " }}{{ trim " b " }}{{ Trim "xxcxx" "x" }}{{ trimAll "y" "ydy" }}"#, "abcd");
}

#[test]
fn errors() {
    assert_eq!(
        Template::parse("line", "{{ nope .a }}").unwrap_err(),
        "template: line:1: function \"nope\" not defined"
    );
    assert!(Template::parse("line", "{{ .a ").unwrap_err().contains("unclosed action"));
    assert!(Template::parse("line", "{{ if .a }}x").unwrap_err().contains("unexpected EOF"));
    assert!(Template::parse("line", "{{ range .a }}{{ end }}").unwrap_err().contains("not supported"));
    let error = run(r#"{{ eq .status 404 }}"#).unwrap_err();
    assert!(error.contains("incompatible types for comparison"), "{error}");
    let error = run(r#"{{ ToUpper 5 }}"#).unwrap_err();
    assert!(error.contains("expected string; got int"), "{error}");
}

#[test]
fn simple_fields_are_recognised() {
    assert_eq!(Template::parse("line", "{{.msg}}").unwrap().simple_field(), Some("msg"));
    assert_eq!(Template::parse("line", "{{ .msg | ToUpper }}").unwrap().simple_field(), None);
    let mut fields = Vec::new();
    Template::parse("line", "{{ if .a }}{{ .b | default .c }}{{ end }}").unwrap().referenced_fields(&mut fields);
    assert_eq!(fields, ["a", "b", "c"]);
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{{",
            "}}",
            "{{-",
            "-}}",
            " ",
            ".app",
            ".",
            "$x",
            ":=",
            "|",
            "(",
            ")",
            "if",
            "else",
            "end",
            "with",
            "eq",
            "printf",
            "\"%d %s %5.2f\"",
            "\"a\"",
            "1",
            "2.5",
            "-3",
            "upper",
            "substr",
            "trunc",
            "default",
            "date",
            "toDate",
            "\"2006\"",
            "__timestamp__",
            "__line__",
            "add",
            "div",
            "round",
            "b64dec",
            "x",
            "/*",
            "*/",
        ])
    }

    proptest! {
        #[test]
        fn templates_never_panic(parts in prop::collection::vec(fragment(), 0..20)) {
            let source = parts.concat();
            if let Ok(template) = Template::parse("line", &source) {
                let mut out = String::new();
                let _ = template.execute(&data(), &mut out);
            }
        }
    }
}
