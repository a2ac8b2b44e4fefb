#include <isa-l/igzip_lib.h>

/// The level buffer ISA-L suggests for `level` (its ISAL_DEF_LVLx_DEFAULT macros, which Swift cannot import).
static inline uint32_t faceexport_isal_level_buffer_size(uint32_t level) {
    switch (level) {
    case 0: return ISAL_DEF_LVL0_DEFAULT;
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    default: return ISAL_DEF_LVL3_DEFAULT;
    }
}

/// Whether the stream has written its whole gzip member (trailer included).
static inline int faceexport_isal_member_ended(const struct isal_zstream *stream) {
    return stream->internal_state.state == ZSTATE_END;
}
