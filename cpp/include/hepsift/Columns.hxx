// hepsift/Columns.hxx — guarded access to collection columns for model inputs.
//
//   df.Define("j0_pt", "hepsift::at(Jet_pt, 0)")          // Jet_pt[0], or -999 when nJet == 0
//   hepsift::rdf.define(df, "s", "m.onnx", {"hepsift::at(Jet_pt, 1, 0.f)", ...})
//
// `Jet_pt[0]` on an event without jets reads past the end of the collection (ROOT does not
// check the index); `at` returns `missing` instead: -999, hepsift's marker of an absent
// object (the value the generator, the feature sets and the tree models use).
#ifndef HEPSIFT_COLUMNS_HXX
#define HEPSIFT_COLUMNS_HXX

#include <ROOT/RVec.hxx>

#include <cstddef>

namespace hepsift {

/// hepsift's value for a feature of an absent object.
inline constexpr float kMissing = -999.f;

/// Element `i` of `v` as float, or `missing` when `v` has no element `i`.
template <typename T>
float at(const ROOT::VecOps::RVec<T> &v, std::size_t i, float missing = kMissing)
{
   return i < v.size() ? static_cast<float>(v[i]) : missing;
}

} // namespace hepsift

#endif
