import Testing

// SensorloopTests: placeholder until the module lands.
@Test func placeholder() {}
