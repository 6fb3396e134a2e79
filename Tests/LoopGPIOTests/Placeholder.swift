import Testing

// LoopGPIOTests: placeholder until the module lands.
@Test func placeholder() {}
