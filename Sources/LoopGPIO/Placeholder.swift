// LoopGPIO: placeholder until the module lands.
