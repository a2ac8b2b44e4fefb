// glibc's malloc tuning (mallopt, malloc_trim), which Swift's Glibc module does not declare.
#include <malloc.h>
