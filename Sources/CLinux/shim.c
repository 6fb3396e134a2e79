// CLinux: placeholder until the shim lands.
#include "CLinux.h"
