// hepsift/Images.hxx — jet images and event images inside the event loop.
//
//   df.Define("img", "hepsift::jetImage(PFCand_pt, PFCand_eta, PFCand_phi, PFCand_type, PFCand_fatJetIdx, 0)")
//   df.Define("evt", "hepsift::eventImage(Jet_pt, Jet_eta, Jet_phi, Electron_pt, Electron_eta, Electron_phi, "
//                    "Muon_pt, Muon_eta, Muon_phi, Photon_pt, Photon_eta, Photon_phi, MET_pt, MET_phi)")
//
// Each returns ROOT::RVec<float> of C x H x W pixels, row-major (channel, row, column). The
// Python builders of hepsift.images compute the same pixels from the same file (identical
// floating-point operations in the same order; tested to 1e-6, identical in practice), so a
// model trained on Python images can be evaluated on images built in the event loop. Under
// clang (cling) the functions switch off fused multiply-add themselves; GCC fuses only when told
// to (-ffp-contract=fast with FMA hardware, e.g. -std=gnu++17 -march=native), which changes
// the last bit of some coordinates and can move a constituent that sits on a pixel edge.
//
// Jet image of jet `jet` (its constituents: entries with jetIdx == jet), all in double:
//  1. centre: the pT-weighted centroid, eta_c = sum(pt eta) / sum(pt), phi likewise on
//     dphi = phi - phi(leading constituent) wrapped into [-pi, pi];
//     x = eta - eta_c, y = dphi - mean(dphi);
//  2. rotate (JetImageConfig::rotate): the principal axis of the pT-weighted second moments
//     Cxx = sum(pt x x), Cyy, Cxy onto +x: c = cos(theta), s = sin(theta) with
//     cos(2 theta) = (Cxx - Cyy) / r, r = sqrt((Cxx - Cyy)^2 + 4 Cxy^2), sign(s) = sign(Cxy)
//     (square roots only, no trigonometric functions); u = x c + y s, v = y c - x s;
//  3. flip (JetImageConfig::flip): u -> -u when the pT at u < 0 exceeds that at u > 0, and the
//     same for v: the brighter half lies at positive u (columns) and v (rows);
//  4. pixels: column j = floor((u + E) / w) with w = 2 E / cols, row i = floor((v + E) / h),
//     h = 2 E / rows (E = extent); constituents outside [0, cols) x [0, rows) are dropped. The
//     centre pixel of an odd grid covers [-w/2, w/2): the centroid lies in it;
//  5. channels: each channel is a bit mask over PFCand_type codes (bit t for type t), a
//     constituent adds its pT to every channel whose mask holds its type;
//  6. normalise: divide by the sum of the pT added (sum over channels), so the image sums to 1.
// The centroid and axes use every constituent of the jet, whatever the channels.
//
// Event image: one channel per object type (0 jets, 1 electrons, 2 muons, 3 photons, 4 missing
// E_T at eta = 0), intensity pT: column floor((eta + E) / w), w = 2 E / cols (objects outside
// |eta| < E are dropped), row floor((phi + pi) / h) modulo rows, h = 2 pi / rows.
#ifndef HEPSIFT_IMAGES_HXX
#define HEPSIFT_IMAGES_HXX

#include "hepsift/Errors.hxx"

#include <ROOT/RVec.hxx>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace hepsift {

/// PFCand_type codes written by hepsift's generator.
enum ParticleType : int {
   kChargedHadron = 1,
   kNeutralHadron = 2,
   kPhoton = 3,
   kElectron = 4,
   kMuon = 5,
};

/// Channel masks: bit t selects PFCand_type t.
inline constexpr int kChargedMask = (1 << kChargedHadron) | (1 << kElectron) | (1 << kMuon);
inline constexpr int kNeutralMask = (1 << kNeutralHadron) | (1 << kPhoton);
inline constexpr int kAllMask = kChargedMask | kNeutralMask;

/// Options of jetImage (aggregate: `hepsift::JetImageConfig{33, 33, 1.0, true, true, false, {50, 12}}`).
struct JetImageConfig {
   int rows = 33;          ///< H: pixels along v (the minor axis after rotation)
   int cols = 33;          ///< W: pixels along u (the principal axis after rotation)
   double extent = 1.0;    ///< half-width E of the image in eta and phi (the jet radius R)
   bool rotate = true;     ///< rotate the principal axis onto +u
   bool flip = true;       ///< put the brighter halves at positive u and v
   bool normalise = false; ///< divide by the summed pT (the image sums to 1)
   std::vector<int> channels = {kChargedMask, kNeutralMask}; ///< type bit masks, one per channel
};

/// Options of eventImage.
struct EventImageConfig {
   int rows = 32;          ///< H: pixels in phi over [-pi, pi)
   int cols = 32;          ///< W: pixels in eta over [-extent, extent)
   double extent = 5.0;    ///< |eta| range
   bool normalise = false; ///< divide by the summed pT (the image sums to 1)
};

/// Channels of an event image: jets, electrons, muons, photons, missing E_T.
inline constexpr int kEventImageChannels = 5;

namespace detail {

inline constexpr double kPi = 3.141592653589793;

/// The float pixels of the accumulated intensities: as they are, or divided by their total
/// (all zero when the total is zero).
inline void toPixels(const std::vector<double> &acc, double total, bool normalise, ROOT::RVec<float> &image)
{
   if (normalise) {
      if (total > 0.0)
         for (std::size_t k = 0; k < acc.size(); ++k)
            image[k] = static_cast<float>(acc[k] / total);
   } else {
      for (std::size_t k = 0; k < acc.size(); ++k)
         image[k] = static_cast<float>(acc[k]);
   }
}

inline void checkGrid(const char *fn, int rows, int cols, double extent)
{
   if (rows < 1 || cols < 1 || rows > 4096 || cols > 4096)
      throw ConfigurationError(std::string(fn) + ": rows and cols must be 1-4096, got " + std::to_string(rows) +
                               " x " + std::to_string(cols));
   if (!(extent > 0) || !std::isfinite(extent))
      throw ConfigurationError(std::string(fn) + ": extent must be a positive finite number, got " +
                               std::to_string(extent));
}

inline void checkJetConfig(const JetImageConfig &cfg)
{
   checkGrid("hepsift::jetImage", cfg.rows, cfg.cols, cfg.extent);
   if (cfg.channels.empty())
      throw ConfigurationError("hepsift::jetImage: no channels; give at least one PFCand_type bit mask");
   for (int m : cfg.channels)
      if (m <= 0 || (m & ~kAllMask) != 0)
         throw ConfigurationError("hepsift::jetImage: channel mask " + std::to_string(m) +
                                  " is not a non-empty set of PFCand_type bits 1-5 (mask bits 2-62)");
}

template <typename A, typename B>
void checkParallel(const char *fn, const char *a, const ROOT::RVec<A> &va, const char *b, const ROOT::RVec<B> &vb)
{
   if (va.size() != vb.size())
      throw EvaluationError(std::string(fn) + ": column '" + b + "' has " + std::to_string(vb.size()) +
                            " entries but '" + a + "' has " + std::to_string(va.size()) +
                            " (the columns of one collection must have equal lengths)");
}

inline double wrapPhi(double d)
{
   if (d > kPi)
      d -= 2.0 * kPi;
   else if (d < -kPi)
      d += 2.0 * kPi;
   return d;
}

} // namespace detail

/// Jet image of jet number `jet` from its constituents (entries with jetIdx == jet).
///
/// \param pt, eta, phi  constituent kinematics (e.g. PFCand_pt, PFCand_eta, PFCand_phi; GeV, rad)
/// \param type          PFCand_type codes (1 charged hadron, 2 neutral hadron, 3 photon, 4 e, 5 mu)
/// \param jetIdx        index of the jet each constituent belongs to (PFCand_fatJetIdx or _jetIdx; -1 none)
/// \param jet           the jet to image (0: the leading one)
/// \return channels x rows x cols pixels, row-major; all zero when the jet has no constituent
/// \throws ConfigurationError for a bad configuration; EvaluationError for columns of unequal
///         lengths (naming them) or a non-finite constituent
template <typename F, typename T, typename I>
ROOT::RVec<float> jetImage(const ROOT::RVec<F> &pt, const ROOT::RVec<F> &eta, const ROOT::RVec<F> &phi,
                           const ROOT::RVec<T> &type, const ROOT::RVec<I> &jetIdx, int jet,
                           const JetImageConfig &cfg = JetImageConfig{})
{
#ifdef __clang__
#pragma clang fp contract(off) // no fused multiply-add: the same roundings as NumPy
#endif
   const char *fn = "hepsift::jetImage";
   detail::checkJetConfig(cfg);
   detail::checkParallel(fn, "pt", pt, "eta", eta);
   detail::checkParallel(fn, "pt", pt, "phi", phi);
   detail::checkParallel(fn, "pt", pt, "type", type);
   detail::checkParallel(fn, "pt", pt, "jetIdx", jetIdx);
   const std::size_t n = pt.size();
   const std::size_t nch = cfg.channels.size();
   const std::size_t npix = static_cast<std::size_t>(cfg.rows) * static_cast<std::size_t>(cfg.cols);
   ROOT::RVec<float> image(nch * npix, 0.f);

   // 1. sum of pT and the leading constituent (first one on ties)
   double sw = 0.0, lead = -1.0, ref = 0.0;
   for (std::size_t i = 0; i < n; ++i) {
      if (static_cast<long long>(jetIdx[i]) != jet)
         continue;
      const double p = pt[i];
      if (!std::isfinite(p) || !std::isfinite(static_cast<double>(eta[i])) || !std::isfinite(static_cast<double>(phi[i])))
         throw EvaluationError(std::string(fn) + ": constituent " + std::to_string(i) +
                               " has a non-finite pt, eta or phi");
      sw += p;
      if (p > lead) {
         lead = p;
         ref = phi[i];
      }
   }
   if (!(sw > 0.0))
      return image;
   // centroid
   double seta = 0.0, sphi = 0.0;
   for (std::size_t i = 0; i < n; ++i) {
      if (static_cast<long long>(jetIdx[i]) != jet)
         continue;
      const double p = pt[i];
      seta += p * static_cast<double>(eta[i]);
      sphi += p * detail::wrapPhi(static_cast<double>(phi[i]) - ref);
   }
   const double meta = seta / sw, mphi = sphi / sw;
   // the jet's constituents about the centroid: f(index, pT, x = eta - centroid, y = phi - centroid)
   auto forCentred = [&](auto &&f) {
      for (std::size_t i = 0; i < n; ++i) {
         if (static_cast<long long>(jetIdx[i]) != jet)
            continue;
         const double x = static_cast<double>(eta[i]) - meta;
         const double y = detail::wrapPhi(static_cast<double>(phi[i]) - ref) - mphi;
         f(i, static_cast<double>(pt[i]), x, y);
      }
   };
   // 2. principal axis
   double c = 1.0, s = 0.0;
   if (cfg.rotate) {
      double cxx = 0.0, cyy = 0.0, cxy = 0.0;
      forCentred([&](std::size_t, double p, double x, double y) {
         cxx += p * x * x;
         cyy += p * y * y;
         cxy += p * x * y;
      });
      const double dd = cxx - cyy;
      const double r = std::sqrt(dd * dd + 4.0 * cxy * cxy);
      if (r > 0.0) {
         const double c2 = dd / r;
         c = std::sqrt(std::max(0.0, 0.5 * (1.0 + c2)));
         s = std::sqrt(std::max(0.0, 0.5 * (1.0 - c2)));
         if (cxy < 0.0)
            s = -s;
      }
   }
   // 3. flips
   double su = 1.0, sv = 1.0;
   if (cfg.flip) {
      double upos = 0.0, uneg = 0.0, vpos = 0.0, vneg = 0.0;
      forCentred([&](std::size_t, double p, double x, double y) {
         const double u = x * c + y * s;
         const double v = y * c - x * s;
         if (u > 0.0)
            upos += p;
         if (u < 0.0)
            uneg += p;
         if (v > 0.0)
            vpos += p;
         if (v < 0.0)
            vneg += p;
      });
      if (uneg > upos)
         su = -1.0;
      if (vneg > vpos)
         sv = -1.0;
   }
   // 4.-6. pixels
   const double e = cfg.extent;
   const double w = (2.0 * e) / cfg.cols, h = (2.0 * e) / cfg.rows;
   std::vector<double> acc(nch * npix, 0.0);
   double total = 0.0;
   forCentred([&](std::size_t i, double p, double x, double y) {
      const double u = (x * c + y * s) * su;
      const double v = (y * c - x * s) * sv;
      const double fc = std::floor((u + e) / w), fr = std::floor((v + e) / h);
      if (!(fc >= 0.0 && fc < cfg.cols && fr >= 0.0 && fr < cfg.rows))
         return;
      const long long t = static_cast<long long>(type[i]);
      if (t < 0 || t > 30)
         return;
      const std::size_t pix = static_cast<std::size_t>(fr) * cfg.cols + static_cast<std::size_t>(fc);
      int in = 0;
      for (std::size_t ch = 0; ch < nch; ++ch)
         if ((cfg.channels[ch] >> t) & 1) {
            acc[ch * npix + pix] += p;
            ++in;
         }
      total += p * in;
   });
   detail::toPixels(acc, total, cfg.normalise, image);
   return image;
}

namespace detail {

template <typename P, typename E, typename F>
void placeObjects(const char *coll, const ROOT::RVec<P> &pt, const ROOT::RVec<E> &eta, const ROOT::RVec<F> &phi,
                  int channel, const EventImageConfig &cfg, double w, double h, std::vector<double> &acc,
                  double &total)
{
#ifdef __clang__
#pragma clang fp contract(off)
#endif
   const std::string fn = std::string("hepsift::eventImage (") + coll + ")";
   checkParallel(fn.c_str(), "pt", pt, "eta", eta);
   checkParallel(fn.c_str(), "pt", pt, "phi", phi);
   const std::size_t npix = static_cast<std::size_t>(cfg.rows) * static_cast<std::size_t>(cfg.cols);
   for (std::size_t i = 0; i < pt.size(); ++i) {
      const double p = pt[i], et = eta[i], ph = phi[i];
      if (!std::isfinite(p) || !std::isfinite(et) || !std::isfinite(ph))
         throw EvaluationError(fn + ": object " + std::to_string(i) + " has a non-finite pt, eta or phi");
      const double fc = std::floor((et + cfg.extent) / w);
      if (!(fc >= 0.0 && fc < cfg.cols))
         continue;
      long long r = static_cast<long long>(std::floor((ph + kPi) / h)) % cfg.rows;
      if (r < 0)
         r += cfg.rows;
      acc[channel * npix + static_cast<std::size_t>(r) * cfg.cols + static_cast<std::size_t>(fc)] += p;
      total += p;
   }
}

} // namespace detail

/// "Abstract" event image: reconstructed objects in (phi rows, eta columns), one channel per
/// object type (0 jets, 1 electrons, 2 muons, 3 photons, 4 missing E_T placed at eta = 0),
/// intensity pT (GeV), or pT / sum pT with `normalise`.
///
/// \return 5 x rows x cols pixels, row-major
/// \throws ConfigurationError for a bad configuration; EvaluationError for columns of one
///         collection with unequal lengths (naming them) or a non-finite value
template <typename J, typename E, typename M, typename P, typename T, typename U>
ROOT::RVec<float>
eventImage(const ROOT::RVec<J> &jetPt, const ROOT::RVec<J> &jetEta, const ROOT::RVec<J> &jetPhi,
           const ROOT::RVec<E> &elePt, const ROOT::RVec<E> &eleEta, const ROOT::RVec<E> &elePhi,
           const ROOT::RVec<M> &muPt, const ROOT::RVec<M> &muEta, const ROOT::RVec<M> &muPhi,
           const ROOT::RVec<P> &phoPt, const ROOT::RVec<P> &phoEta, const ROOT::RVec<P> &phoPhi, T metPt, U metPhi,
           const EventImageConfig &cfg = EventImageConfig{})
{
   detail::checkGrid("hepsift::eventImage", cfg.rows, cfg.cols, cfg.extent);
   const std::size_t npix = static_cast<std::size_t>(cfg.rows) * static_cast<std::size_t>(cfg.cols);
   const double w = (2.0 * cfg.extent) / cfg.cols, h = (2.0 * detail::kPi) / cfg.rows;
   std::vector<double> acc(kEventImageChannels * npix, 0.0);
   double total = 0.0;
   detail::placeObjects("Jet", jetPt, jetEta, jetPhi, 0, cfg, w, h, acc, total);
   detail::placeObjects("Electron", elePt, eleEta, elePhi, 1, cfg, w, h, acc, total);
   detail::placeObjects("Muon", muPt, muEta, muPhi, 2, cfg, w, h, acc, total);
   detail::placeObjects("Photon", phoPt, phoEta, phoPhi, 3, cfg, w, h, acc, total);
   const ROOT::RVec<double> met{static_cast<double>(metPt)}, zero{0.0}, metPhiV{static_cast<double>(metPhi)};
   detail::placeObjects("MET", met, zero, metPhiV, 4, cfg, w, h, acc, total);
   ROOT::RVec<float> image(acc.size(), 0.f);
   detail::toPixels(acc, total, cfg.normalise, image);
   return image;
}

} // namespace hepsift

#endif
