// LoopConfig: placeholder until the module lands.
