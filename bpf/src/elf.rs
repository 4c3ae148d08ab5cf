//! The object's ELF form (`.bo`): one section per program named as libbpf
//! expects, the maps, `license`, and stapc's own metadata; writer and reader.
