// swift-tools-version: 6.2
// sensorloop: a single-threaded, allocation-free executor for Raspberry Pi class boards, and
// the firmware-style program built on it. No package dependencies: the Swift toolchain and
// libgpiod, loaded at run time (v2 API on Pi OS trixie, v1 on bookworm) only.
import PackageDescription

/// Modules on the loop's hot path are optimised across module boundaries in release builds,
/// so the executor's generic run loop is specialised for the application's task type.
let hotPath: [SwiftSetting] = [
  .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))
]

let package = Package(
  name: "sensorloop",
  products: [
    .executable(name: "sensorloop", targets: ["sensorloop"]),
    .executable(name: "sensorloop-bench", targets: ["sensorloop-bench"]),
    // The executor as a library, for firmware packages of their own (README.md, "Your own
    // firmware"; Sources/Examples/README.md): depend on this package by path and on these.
    .library(name: "LoopCore", targets: ["LoopCore"]),
    .library(name: "LoopLinux", targets: ["LoopLinux"]),
    .library(name: "LoopGPIO", targets: ["LoopGPIO"]),
    .library(name: "LoopTesting", targets: ["LoopTesting"]),
    .library(name: "LoopMQTT", targets: ["LoopMQTT"]),
    // The examples a firmware developer copies (Sources/Examples/README.md).
    .executable(name: "Blinky", targets: ["Blinky"]),
    .executable(name: "ButtonLED", targets: ["ButtonLED"]),
    .executable(name: "ProducerConsumer", targets: ["ProducerConsumer"]),
    .executable(name: "ThreadWork", targets: ["ThreadWork"]),
  ],
  targets: [
    // Core executor: time, task slots, wakers, timers, interrupts, sync primitives. Stdlib only.
    // `TaskBody.World` may be ~Copyable (it owns fds): that needs SuppressedAssociatedTypes.
    .target(
      name: "LoopCore",
      swiftSettings: hotPath + [.enableExperimentalFeature("SuppressedAssociatedTypes")]),
    // Thin C shim over epoll, timerfd, eventfd, signalfd, clock_gettime and errno.
    .target(name: "CLinux"),
    // The Linux platform: file descriptors, errno, the epoll reactor and its event sources.
    .target(name: "LoopLinux", dependencies: ["LoopCore", "CLinux"], swiftSettings: hotPath),
    // libgpiod loaded at run time (dlopen): libgpiod.so.3 (v2 API, Pi OS trixie) or else
    // libgpiod.so.2 (v1 API, bookworm); its own prototypes, so no gpiod.h is needed to build.
    .target(name: "CGPIOD"),
    // GPIO lines: libgpiod v1 and v2 backends and a mock backend sharing one edge-event decode path.
    .target(
      name: "LoopGPIO", dependencies: ["LoopCore", "LoopLinux", "CGPIOD"], swiftSettings: hotPath),
    // MQTT 3.1.1: packets encoded and decoded in caller-owned buffers, and a client as a task on
    // the loop (non-blocking sockets, fixed buffers in one mapping made at startup).
    .target(name: "LoopMQTT", dependencies: ["LoopCore", "LoopLinux", "CLinux"], swiftSettings: hotPath),
    // board.json: a small JSON reader with positions, validation into fixed capacities, and the
    // task kinds (one file each in Kinds/: keys, checks, capacity needs, how the task is built).
    // Its values are the GPIO and task layers' own types. Kinds/registry.txt lists the kinds;
    // Kinds/generate writes TaskKind.generated.swift and LoopTasks' FirmwareTask from it.
    .target(
      name: "LoopConfig", dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopTasks", "LoopMQTT"],
      exclude: ["Kinds/registry.txt", "Kinds/generate"], linkerSettings: [.linkedLibrary("m")]),
    // The firmware task library and the non-blocking JSON-lines output.
    .target(
      name: "LoopTasks", dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopMQTT", "CLinux"],
      swiftSettings: hotPath, linkerSettings: [.linkedLibrary("m")]),
    // The program: load a config, wire tasks, run, shut down cleanly.
    .executableTarget(
      name: "sensorloop",
      dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopConfig", "LoopTasks", "LoopMQTT"],
      swiftSettings: hotPath),
    // The allocation proof of the firmware's loop: the executor of every task over the epoll
    // platform, built with -no-allocations by `cross/build aarch64 --no-allocations`. Never run.
    .target(
      name: "FirmwareProof", dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopTasks", "LoopMQTT"],
      swiftSettings: hotPath),

    // Test and benchmark support (never on the board).
    .target(name: "LoopTesting", dependencies: ["LoopCore"]),
    // GPIO for host tests: faults (lines held by other consumers, chips without access) and
    // the changes a mock output's port recorded.
    .target(name: "GPIOTestSupport", dependencies: ["LoopCore", "LoopLinux", "LoopGPIO"]),
    // Host-only test support on Foundation (never built for the board, so it lives in Tests/):
    // a real mosquitto and its command-line clients, a fake sysfs tree.
    .target(name: "HostTestSupport", path: "Tests/HostTestSupport"),
    .target(name: "AllocCounter"),
    .target(name: "CBaseline"),
    .executableTarget(
      name: "sensorloop-bench",
      dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopMQTT", "CBaseline", "AllocCounter"],
      exclude: ["footprint.sh", "README-section.md"], swiftSettings: hotPath),

    // The examples: each one program, run on the host with the simulated (mock) GPIO and
    // cross-built for the Pi like sensorloop. CExamples: the thread start ThreadWork needs.
    .target(name: "CExamples", path: "Sources/Examples/CExamples"),
    .executableTarget(
      name: "Blinky", dependencies: ["LoopCore", "LoopLinux", "LoopGPIO"], path: "Sources/Examples/Blinky",
      swiftSettings: hotPath),
    .executableTarget(
      name: "ButtonLED", dependencies: ["LoopCore", "LoopLinux", "LoopGPIO"],
      path: "Sources/Examples/ButtonLED", swiftSettings: hotPath),
    .executableTarget(
      name: "ProducerConsumer", dependencies: ["LoopCore", "LoopLinux"],
      path: "Sources/Examples/ProducerConsumer", swiftSettings: hotPath),
    .executableTarget(
      name: "ThreadWork", dependencies: ["LoopCore", "LoopLinux", "CExamples"],
      path: "Sources/Examples/ThreadWork", swiftSettings: hotPath),

    .testTarget(name: "LoopCoreTests", dependencies: ["LoopCore", "LoopTesting", "AllocCounter"]),
    .testTarget(
      name: "LoopLinuxTests", dependencies: ["LoopCore", "LoopLinux", "LoopTesting", "AllocCounter"]),
    .testTarget(
      name: "LoopGPIOTests",
      dependencies: ["LoopCore", "LoopLinux", "LoopGPIO", "LoopTesting", "GPIOTestSupport", "AllocCounter"]),
    // bad/ is the bad-config corpus, read from disk by the tests.
    .testTarget(
      name: "LoopConfigTests",
      dependencies: ["LoopCore", "LoopConfig", "LoopGPIO", "LoopTasks", "LoopTesting"],
      exclude: ["bad", "largest.json"]),
    .testTarget(
      name: "LoopTasksTests",
      dependencies: [
        "LoopCore", "LoopLinux", "LoopGPIO", "LoopTasks", "LoopTesting", "GPIOTestSupport", "AllocCounter",
        "HostTestSupport",
      ]),
    // The MQTT codec, and the client against a real mosquitto (started by the tests).
    .testTarget(
      name: "LoopMQTTTests",
      dependencies: ["LoopCore", "LoopLinux", "LoopMQTT", "AllocCounter", "HostTestSupport"]),
    .testTarget(name: "SensorloopTests", dependencies: ["LoopConfig", "HostTestSupport"]),
    // Each example's tasks in virtual time, with mock lines and scripted stimuli.
    .testTarget(
      name: "ExamplesTests",
      dependencies: [
        "Blinky", "ButtonLED", "ProducerConsumer", "ThreadWork", "LoopCore", "LoopGPIO", "LoopTesting",
        "GPIOTestSupport",
      ]),
  ],
  swiftLanguageModes: [.v6]
)
