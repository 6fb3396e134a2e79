// What the config fuzzer (Tests/Fuzz/ConfigFuzz.swift) found, kept as tests.

import Testing

@Suite struct ConfigFuzzRegressionTests {
  /// Found by fuzz-config in CI: a line reference holding an escaped newline was quoted raw into
  /// the "no line named" message, which then spanned two lines. Every quoted text from the
  /// document is now escaped as in JSON.
  @Test func aControlCharacterInAReferenceIsEscapedInTheMessage() {
    let text = #"""
      { "board": "b", "gpio": "mock",
        "lines": { "fan": { "name": "GPIO18", "direction": "output" } },
        "tasks": [ { "name": "t", "kind": "heartbeat", "line": "\nn\u0001\"\\", "pattern_ms": [1, 1] } ] }
      """#
    let rendered = message(text)
    #expect(!rendered.contains("\n"))
    #expect(rendered.contains(#"no line named "\u000An\u0001\"\\""#))
  }

  /// The same escaping reaches unknown keys (shown in the path) and task references.
  @Test func controlCharactersInKeysAndTaskNamesAreEscaped() {
    let key = message(#"{ "board": "b", "gpio": "mock", "lines": {}, "tasks": [], "x\ty": 1 }"#)
    #expect(!key.contains("\t") && key.contains(#"\u0009"#))
    let source = message(
      #"""
      { "board": "b", "gpio": "mock",
        "lines": { "fan": { "name": "GPIO18", "direction": "output" } },
        "tasks": [ { "name": "f", "kind": "threshold", "source": "a\rb", "line": "fan", "on_above": 1 } ] }
      """#)
    #expect(!source.contains("\r") && source.contains(#"\u000D"#))
  }
}
