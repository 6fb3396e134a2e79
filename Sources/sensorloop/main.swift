// sensorloop: placeholder entry point until the program lands.
print("sensorloop: not built yet")
