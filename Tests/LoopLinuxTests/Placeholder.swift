import Testing

// LoopLinuxTests: placeholder until the module lands.
@Test func placeholder() {}
