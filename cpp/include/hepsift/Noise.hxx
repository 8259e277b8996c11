// hepsift/Noise.hxx — reproducible standard-normal noise per event, for sampling exported
// generative models inside an event loop:
//
//   df.Define("z", "hepsift::noise(42ULL, rdfentry_, 8u)")   // 8 N(0,1) numbers per entry
//
// The numbers of entry i depend only on (seed, i): the same with any number of threads, any
// task splitting and on any machine (SplitMix64 counters, Box-Muller transform).
#ifndef HEPSIFT_NOISE_HXX
#define HEPSIFT_NOISE_HXX

#include <ROOT/RVec.hxx>

#include <cmath>
#include <cstdint>

namespace hepsift {

/// SplitMix64 (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
inline std::uint64_t splitmix64(std::uint64_t x)
{
   x += 0x9E3779B97F4A7C15ULL;
   x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
   x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
   return x ^ (x >> 31);
}

/// `n` standard-normal numbers for one entry, a pure function of (seed, entry).
inline ROOT::RVecF noise(std::uint64_t seed, std::uint64_t entry, unsigned int n)
{
   ROOT::RVecF out(n);
   const std::uint64_t key = splitmix64(seed ^ splitmix64(entry + 0x632BE59BD9B4E019ULL));
   const double twoPi = 6.283185307179586;
   for (unsigned int i = 0; i < n; i += 2) {
      const double u1 = ((splitmix64(key + 2 * i) >> 11) + 1.0) * 0x1.0p-53; // (0, 1]
      const double u2 = (splitmix64(key + 2 * i + 1) >> 11) * 0x1.0p-53;     // [0, 1)
      const double r = std::sqrt(-2.0 * std::log(u1));
      out[i] = static_cast<float>(r * std::cos(twoPi * u2));
      if (i + 1 < n)
         out[i + 1] = static_cast<float>(r * std::sin(twoPi * u2));
   }
   return out;
}

} // namespace hepsift

#endif
