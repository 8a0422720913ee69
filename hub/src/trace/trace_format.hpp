// The trace file format (GREENHUB_TRACE=FILE), read by tools/greentrace.
//
//   file    := header record*
//   header  := 64 bytes, little-endian:
//                magic "GHTRACE1" (8) | version u32 = 1 | record size u32 = 48 |
//                pid u32 | reserved u32 | start monotonic ns u64 |
//                start realtime ns u64 | reserved (24)
//   record  := 48 bytes: kind u8 | flags u8 | hub u16 | fd i32 |
//              t u64 | greenlet u64 | a u64 | b u64 | c i32 | d u32
//
// Kinds (the fields they use; times are CLOCK_MONOTONIC ns):
//   kString   fd = string id; bytes 8..47 = text (NUL-padded, at most 40)
//   kSpawn    hub, greenlet, t, a = creator id, b..d = pthread name (16)
//   kSpawnReq hub = the requesting hub, fd = target hub, greenlet, t, a = creator id
//   kStart    hub, greenlet, t (its first run)
//   kExit     hub, greenlet, t, a = 1 if it ended with an exception, b..d = name (16)
//   kWait     hub, greenlet, fd (-1: none or several), t = start, a = duration,
//             b = call string id (0: unknown), c = wake reason (0 woken,
//             1 timed out, 2 interrupted), flags bit 0 = main greenlet
//   kStall    hub, greenlet, t = start, a = duration, d = number of kText
//             records that follow, whose text is: call NUL name NUL backtrace
//   kText     bytes 8..47: 40 bytes of the preceding record's text,
//             NUL-padded in the last one
//   kDropped  hub, t, a = events the ring of that hub's thread dropped since
//             the previous kDropped of that ring, fd = ring id
//   kCounter  t, a = count so far, b = call string id, c = route; the last
//             kCounter of a (call, route) in the file is its total
//
// A string id is defined by a kString record before its first use. Files
// end wherever the process ended; a truncated last record is ignored.
#pragma once

#include <cstdint>

namespace greenhub::trace {

inline constexpr char kMagic[8] = {'G', 'H', 'T', 'R', 'A', 'C', 'E', '1'};
inline constexpr uint32_t kFormatVersion = 1;

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t record_size;
  uint32_t pid;
  uint32_t reserved0;
  uint64_t start_monotonic_ns;
  uint64_t start_realtime_ns;
  uint8_t reserved[24];
};
static_assert(sizeof(FileHeader) == 64);

enum class Kind : uint8_t {
  kString = 1,
  kSpawn = 2,
  kSpawnReq = 3,
  kStart = 4,
  kExit = 5,
  kWait = 6,
  kStall = 7,
  kText = 8,
  kDropped = 9,
  kCounter = 10,
};

struct Record {
  Kind kind;
  uint8_t flags;
  uint16_t hub;
  int32_t fd;
  uint64_t t;
  uint64_t greenlet;
  uint64_t a;
  uint64_t b;  // in a ring: a const char* (the call); in the file: its string id
  int32_t c;
  uint32_t d;
};
static_assert(sizeof(Record) == 48);

// Offsets of the 16-byte name in kSpawn/kExit and of text in kString/kText.
inline constexpr size_t kNameOffset = 32;  // b, c, d
inline constexpr size_t kNameSize = 16;
inline constexpr size_t kTextOffset = 8;
inline constexpr size_t kTextSize = 40;

}  // namespace greenhub::trace
