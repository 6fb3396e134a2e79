// sensorloop-bench: placeholder entry point until the benchmark lands.
print("sensorloop-bench: not built yet")
