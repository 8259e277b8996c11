// ctest "images": hepsift::jetImage and hepsift::eventImage compiled (no cling): shapes,
// centring, rotation, flips, channels, normalisation, event-image placement and errors.
#include "Check.hxx"

#include <hepsift/Images.hxx>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using ROOT::RVec;

namespace {

// pT-weighted mean and second moments (u along columns, v along rows) of channel 0
struct Moments {
   double mu, mv, cuu, cvv, cuv, sum;
};

Moments moments(const RVec<float> &img, int rows, int cols, double extent)
{
   Moments m{0, 0, 0, 0, 0, 0};
   auto u = [&](int j) { return -extent + (j + 0.5) * 2 * extent / cols; };
   auto v = [&](int i) { return -extent + (i + 0.5) * 2 * extent / rows; };
   for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) {
         const double w = img[i * cols + j];
         m.sum += w;
         m.mu += w * u(j);
         m.mv += w * v(i);
      }
   m.mu /= m.sum;
   m.mv /= m.sum;
   for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) {
         const double w = img[i * cols + j] / m.sum;
         m.cuu += w * (u(j) - m.mu) * (u(j) - m.mu);
         m.cvv += w * (v(i) - m.mv) * (v(i) - m.mv);
         m.cuv += w * (u(j) - m.mu) * (v(i) - m.mv);
      }
   return m;
}

} // namespace

int main()
{
   // an elongated jet at 40 degrees, crossing phi = pi, with a bright tail on one side
   std::mt19937 rng(3);
   std::normal_distribution<double> major(0.0, 0.25), minor(0.0, 0.06);
   std::exponential_distribution<double> expo(0.2);
   RVec<float> pt, eta, phi;
   RVec<int> type, idx;
   const double angle = 0.7;
   for (int k = 0; k < 400; ++k) {
      double a = major(rng), b = minor(rng);
      if (k < 60) {
         a = std::fabs(a) + 0.3;
         b = std::fabs(b) + 0.05;
      }
      if (std::fabs(a) > 0.85)
         continue;
      double ph = 3.0 + a * std::sin(angle) + b * std::cos(angle);
      if (ph > M_PI)
         ph -= 2 * M_PI;
      pt.push_back(static_cast<float>(expo(rng) + 0.5));
      eta.push_back(static_cast<float>(-0.4 + a * std::cos(angle) - b * std::sin(angle)));
      phi.push_back(static_cast<float>(ph));
      type.push_back(k % 3 == 0 ? hepsift::kPhoton : hepsift::kChargedHadron);
      idx.push_back(k % 50 == 7 ? 1 : 0); // a few constituents of another jet
   }
   const double sumJet0 = [&] {
      double s = 0;
      for (std::size_t i = 0; i < pt.size(); ++i)
         s += idx[i] == 0 ? pt[i] : 0.0;
      return s;
   }();

   // default: 2 channels (charged, neutral), 33 x 33, +-1
   auto img = hepsift::jetImage(pt, eta, phi, type, idx, 0);
   HS_CHECK(img.size() == 2u * 33 * 33);
   HS_CHECK_CLOSE(std::accumulate(img.begin(), img.end(), 0.0), sumJet0, 1e-3 * sumJet0);

   hepsift::JetImageConfig one;
   one.channels = {hepsift::kAllMask};
   one.normalise = true;
   auto norm = hepsift::jetImage(pt, eta, phi, type, idx, 0, one);
   HS_CHECK(norm.size() == 33u * 33);
   const Moments m = moments(norm, 33, 33, 1.0);
   HS_CHECK_CLOSE(m.sum, 1.0, 1e-6);                                   // normalised
   HS_CHECK(std::fabs(m.mu) <= 1.0 / 33 && std::fabs(m.mv) <= 1.0 / 33); // centroid in the centre pixel
   HS_CHECK(m.cuu > 5 * m.cvv && std::fabs(m.cuv) < 0.05 * m.cuu);     // principal axis along u
   double right = 0, left = 0, top = 0, bottom = 0;
   for (int i = 0; i < 33; ++i)
      for (int j = 0; j < 33; ++j) {
         const double w = norm[i * 33 + j];
         if (j > 16)
            right += w; // the centre column (j = 16) belongs to neither half
         if (j < 16)
            left += w;
         if (i > 16)
            top += w;
         if (i < 16)
            bottom += w;
      }
   HS_CHECK(right > left && top > bottom); // flipped: brighter halves at positive u and v

   // without rotation the long axis stays at 40 degrees: a large u-v correlation
   hepsift::JetImageConfig plain = one;
   plain.rotate = false;
   plain.flip = false;
   const Moments p = moments(hepsift::jetImage(pt, eta, phi, type, idx, 0, plain), 33, 33, 1.0);
   HS_CHECK(std::fabs(p.cuv) > 0.3 * p.cuu);

   // channels: photons alone carry the photon pT
   hepsift::JetImageConfig ph = one;
   ph.normalise = false;
   ph.channels = {1 << hepsift::kPhoton, hepsift::kChargedMask};
   auto split = hepsift::jetImage(pt, eta, phi, type, idx, 0, ph);
   double photons = 0, inPhoton = 0;
   for (std::size_t i = 0; i < pt.size(); ++i)
      if (idx[i] == 0 && type[i] == hepsift::kPhoton)
         photons += pt[i];
   for (int k = 0; k < 33 * 33; ++k)
      inPhoton += split[k];
   HS_CHECK_CLOSE(inPhoton, photons, 1e-3 * photons);

   // a jet without constituents: zeros
   auto none = hepsift::jetImage(pt, eta, phi, type, idx, 5);
   HS_CHECK(none.size() == 2u * 33 * 33 && std::all_of(none.begin(), none.end(), [](float x) { return x == 0.f; }));

   // event image: a jet at (eta 1.0, phi 0.5), a muon at (-2.0, -3.0), MET at phi 3.1
   hepsift::EventImageConfig ec{20, 10, 5.0, false};
   RVec<float> none0;
   auto ev = hepsift::eventImage(RVec<float>{100.f}, RVec<float>{1.f}, RVec<float>{0.5f}, none0, none0, none0,
                                 RVec<float>{40.f}, RVec<float>{-2.f}, RVec<float>{-3.f}, none0, none0, none0, 60.f,
                                 3.1f, ec);
   HS_CHECK(ev.size() == 5u * 20 * 10);
   const double h = 2 * M_PI / 20;
   auto at = [&](int ch, double e, double f) {
      return ev[ch * 200 + static_cast<int>(std::floor((f + M_PI) / h)) * 10 + static_cast<int>(std::floor(e + 5.0))];
   };
   HS_CHECK(at(0, 1.0, 0.5) == 100.f && at(2, -2.0, -3.0) == 40.f && at(4, 0.0, 3.1f) == 60.f);
   HS_CHECK_CLOSE(std::accumulate(ev.begin(), ev.end(), 0.0), 200.0, 1e-9);

   // errors
   RVec<float> shortEta(eta.begin(), eta.begin() + 3);
   HS_CHECK_THROWS(hepsift::jetImage(pt, shortEta, phi, type, idx, 0), hepsift::EvaluationError,
                   "column 'eta' has 3 entries but 'pt' has");
   hepsift::JetImageConfig bad;
   bad.channels.clear();
   HS_CHECK_THROWS(hepsift::jetImage(pt, eta, phi, type, idx, 0, bad), hepsift::ConfigurationError, "no channels");
   bad.channels = {1}; // bit 0: no PFCand_type
   HS_CHECK_THROWS(hepsift::jetImage(pt, eta, phi, type, idx, 0, bad), hepsift::ConfigurationError, "channel mask 1");
   bad = hepsift::JetImageConfig{};
   bad.extent = -1;
   HS_CHECK_THROWS(hepsift::jetImage(pt, eta, phi, type, idx, 0, bad), hepsift::ConfigurationError, "extent");
   RVec<float> nan = eta;
   nan[0] = std::nanf("");
   HS_CHECK_THROWS(hepsift::jetImage(pt, nan, phi, type, idx, idx[0]), hepsift::EvaluationError, "non-finite");
   HS_CHECK_THROWS(hepsift::eventImage(RVec<float>{1.f}, RVec<float>{}, RVec<float>{0.f}, none0, none0, none0, none0,
                                       none0, none0, none0, none0, none0, 1.f, 0.f),
                   hepsift::EvaluationError, "eventImage (Jet): column 'eta' has 0 entries but 'pt' has 1");
   return HS_REPORT();
}
