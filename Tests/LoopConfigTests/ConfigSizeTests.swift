// The config's value types stay small: a big inline payload in one task kind makes every
// `TaskConfig` (and the board's task table) that big, and every copy, compare and switch of
// them costs binary size and debug codegen time (the sensor kind's inline lists and path made
// `TaskKind` over 1 KB and the aarch64 binary 78 KB larger).

import Testing

@testable import LoopConfig

@Suite struct ConfigSizeTests {
  @Test func taskKindIsSmall() {
    print(
      "MemoryLayout sizes: TaskKind \(MemoryLayout<TaskKind>.size), TaskConfig \(MemoryLayout<TaskConfig>.size), BoardConfig \(MemoryLayout<BoardConfig>.size), SensorConfig \(MemoryLayout<SensorConfig>.size), HardwarePWMConfig \(MemoryLayout<HardwarePWMConfig>.size)"
    )
    #expect(MemoryLayout<SensorConfig>.size <= 128)
    // Its sysfs root is inline (a heap-backed one crashed the host release compiler): no larger
    // than the heartbeat's payload.
    #expect(MemoryLayout<HardwarePWMConfig>.size <= 384)
    // 337 bytes: a heartbeat pattern, a sampler path and a watchdog device are still inline.
    #expect(MemoryLayout<TaskKind>.size <= 384)
  }
}
