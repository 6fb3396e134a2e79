import Testing

// LoopConfigTests: placeholder until the module lands.
@Test func placeholder() {}
