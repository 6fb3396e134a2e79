// libgpiod v1 (1.6.3), the one system library sensorloop links.
#include <gpiod.h>
