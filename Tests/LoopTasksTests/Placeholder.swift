import Testing

// LoopTasksTests: placeholder until the module lands.
@Test func placeholder() {}
