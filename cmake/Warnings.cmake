# The shared warning list for every weighbridge target.
set(WB_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(WB_WERROR)
  list(APPEND WB_WARNINGS -Werror)
endif()
