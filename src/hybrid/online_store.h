// The client's store of online material, encrypted at rest
// (docs/online.md section 6).
//
// Directory: <dir>/<weights digest, hex>/<batch id, hex>.fhom, one file per
// batch of rows of one remote group, and <dir>/spent, the journal of the
// batch ids this client has taken.
//
// Batch file (little-endian):
//   0  4 magic "FHOM"   4 2 version (1)   6 2 reserved (0)
//   8  4 wire id   12 4 n   16 4 k   20 4 rows (1..kMaxBatchRows)   24 8 p
//   32 32 weights digest   64 16 batch id   80 12 AES-GCM nonce   92 4 reserved (0)
//   96 AES-256-GCM of rows x (32-byte seed of R, n x u32 residues of R W^T mod p)
//   .. 16 GCM tag
// The 96-byte header is the associated data: any changed byte, a
// truncation, another key fails the tag (material_corrupt). The key is
// ClientSecret::derive("fhellm online material 1").
//
// Journal: "FHOJ" u16 version (1) u16 0, then 16-byte batch ids.
//
// Taking a batch (the only way rows leave the store): rename the file (one
// process wins), authenticate it, refuse an id already in the journal
// (mask_reused: a copy put back), append the id to the journal and sync it,
// remove the file and sync the directory; only then are its rows returned.
// Rows taken and not used go back with put() as a new batch (new id, new
// nonce). Not thread-safe (one per client); several processes may share a
// directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hybrid/client_secret.h"
#include "hybrid/online_material.h"

namespace fhellm::hybrid {

inline constexpr std::uint32_t kMaxBatchRows = 4096;
inline constexpr std::size_t kBatchHeaderBytes = 96;

class OnlineStore {
 public:
  // Opens (creating, mode 0700) the directory.
  // @throws Error(io_error) when it cannot be created.
  OnlineStore(std::filesystem::path dir, const ClientSecret& secret);

  // Writes the batch as a new file (atomically: a temporary file renamed).
  // @throws Error(invalid_argument) for no row or more than kMaxBatchRows,
  //         Error(mask_reused) for a used row, Error(io_error).
  void put(const MaterialBatch& batch);

  // Rows stored for these weights, from the file headers (not authenticated:
  // a count to show, not to trust).
  std::size_t rows_available(const online::WeightsDigest& digest) const;

  // Takes one stored batch for these weights (see above); nullopt when none is left.
  // @throws Error(material_corrupt) for a file that fails its checks or its
  //         authentication (it is left renamed *.corrupt), Error(mask_reused)
  //         for a batch taken before, Error(io_error).
  std::optional<MaterialBatch> take(const online::WeightsDigest& digest);
  // One batch for each of `digests` (nullopt where none is left), taken as
  // above with one journal write and sync for all of them.
  // @throws as take(digest); on an error no batch is taken (the ones
  //         authenticated go back in place).
  std::vector<std::optional<MaterialBatch>> take(std::span<const online::WeightsDigest> digests);

  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  struct Claimed {
    std::filesystem::path file, claimed;  // the batch's name, and its name while claimed
    std::array<std::uint8_t, 16> id{};
    MaterialBatch batch;
  };
  std::filesystem::path layer_dir(const online::WeightsDigest& digest) const;
  // Renames one batch file of these weights (one process wins) and authenticates it.
  std::optional<Claimed> claim(const online::WeightsDigest& digest);
  // Renames a claimed file to its name with `extension` (".fhom": back in place).
  static void set_aside(const Claimed& c, const char* extension) noexcept;
  // Appends the ids to the journal and syncs it; the index of the first id
  // found there already instead (then nothing is appended).
  std::optional<std::size_t> journal(std::span<const std::array<std::uint8_t, 16>> ids);
  std::filesystem::path dir_;
  SecretKey32 key_{};
};

// $XDG_CACHE_HOME/fhellm/online, else $HOME/.cache/fhellm/online (else ./fhellm-online).
std::filesystem::path default_online_store_path();

}  // namespace fhellm::hybrid
