// A minimal ONNX (protobuf) writer for the C++ tests: they make their own model files, so
// ctest needs neither Python nor files committed to the repository.
//
// The models are y = Sigmoid(Gemm(x, W, b)) with W of shape [nFeatures, nScores], optional
// metadata, and variants with a non-float input or two inputs for the error tests.
#ifndef HEPSIFT_TESTS_ONNXWRITER_HXX
#define HEPSIFT_TESTS_ONNXWRITER_HXX

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace hepsift::testing {

class Proto {
public:
   Proto &varint(int field, std::uint64_t v) { key(field, 0); raw(v); return *this; }
   Proto &bytes(int field, const std::string &s) { key(field, 2); raw(s.size()); fData += s; return *this; }
   Proto &message(int field, const Proto &p) { return bytes(field, p.fData); }
   Proto &packedFloats(int field, const std::vector<float> &v)
   {
      std::string s(v.size() * 4, '\0');
      std::memcpy(&s[0], v.data(), s.size());
      return bytes(field, s);
   }
   const std::string &str() const { return fData; }

private:
   void key(int field, int wire) { raw((static_cast<std::uint64_t>(field) << 3) | wire); }
   void raw(std::uint64_t v)
   {
      while (v >= 0x80) {
         fData += static_cast<char>((v & 0x7f) | 0x80);
         v >>= 7;
      }
      fData += static_cast<char>(v);
   }
   std::string fData;
};

enum ElemType { kFloat = 1, kInt64 = 7 };

inline Proto valueInfo(const std::string &name, int elemType, const std::vector<std::int64_t> &dims)
{
   Proto shape;
   for (auto d : dims) {
      Proto dim;
      if (d < 0)
         dim.bytes(2, "N");
      else
         dim.varint(1, static_cast<std::uint64_t>(d));
      shape.message(1, dim);
   }
   Proto tensor;
   tensor.varint(1, elemType).message(2, shape);
   Proto type;
   type.message(1, tensor);
   Proto vi;
   vi.bytes(1, name).message(2, type);
   return vi;
}

inline Proto floatTensor(const std::string &name, const std::vector<std::int64_t> &dims, const std::vector<float> &v)
{
   Proto t;
   for (auto d : dims)
      t.varint(1, static_cast<std::uint64_t>(d));
   t.varint(2, kFloat).packedFloats(4, v).bytes(8, name);
   return t;
}

inline Proto node(const std::string &op, const std::vector<std::string> &in, const std::vector<std::string> &out)
{
   Proto n;
   for (auto &i : in)
      n.bytes(1, i);
   for (auto &o : out)
      n.bytes(2, o);
   n.bytes(3, op + "_" + out[0]).bytes(4, op);
   return n;
}

struct LinearModel {
   std::size_t nFeatures = 3;
   std::size_t nScores = 1;
   std::vector<float> W; // nFeatures x nScores, row-major
   std::vector<float> b; // nScores
   std::vector<std::pair<std::string, std::string>> metadata;
   int inputType = kFloat;
   bool twoInputs = false;

   LinearModel(std::size_t f, std::size_t k) : nFeatures(f), nScores(k)
   {
      for (std::size_t i = 0; i < f * k; ++i)
         W.push_back(0.25f * static_cast<float>(i % 7) - 0.6f + 0.05f * static_cast<float>(i));
      for (std::size_t j = 0; j < k; ++j)
         b.push_back(0.1f * static_cast<float>(j) - 0.2f);
   }

   /// The score the model must give, computed here in double precision.
   std::vector<double> reference(const std::vector<double> &x) const
   {
      std::vector<double> out(nScores);
      for (std::size_t j = 0; j < nScores; ++j) {
         double z = b[j];
         for (std::size_t i = 0; i < nFeatures; ++i)
            z += x[i] * W[i * nScores + j];
         out[j] = 1.0 / (1.0 + std::exp(-z));
      }
      return out;
   }

   std::string serialize() const
   {
      Proto graph;
      const auto F = static_cast<std::int64_t>(nFeatures), K = static_cast<std::int64_t>(nScores);
      std::string x = "x";
      if (inputType != kFloat) {
         Proto cast = node("Cast", {"x_raw"}, {"x"});
         Proto attr;
         attr.bytes(1, "to").varint(3, kFloat).varint(20, 2); // name, i, type=INT
         cast.message(5, attr);
         graph.message(1, cast);
      }
      graph.message(1, node("Gemm", {"x", "W", "b"}, {"z"}));
      graph.message(1, node("Sigmoid", {"z"}, {"y"}));
      graph.bytes(2, "hepsift_test");
      graph.message(5, floatTensor("W", {F, K}, W));
      graph.message(5, floatTensor("b", {K}, b));
      graph.message(11, valueInfo(inputType != kFloat ? "x_raw" : "x", inputType, {-1, F}));
      if (twoInputs)
         graph.message(11, valueInfo("extra", kFloat, {-1, 1}));
      graph.message(12, valueInfo("y", kFloat, {-1, K}));
      Proto opset;
      opset.bytes(1, "").varint(2, 13);
      Proto model;
      model.varint(1, 8).bytes(2, "hepsift-tests").message(7, graph).message(8, opset);
      for (auto &kv : metadata) {
         Proto entry;
         entry.bytes(1, kv.first).bytes(2, kv.second);
         model.message(14, entry);
      }
      return model.str();
   }

   void write(const std::string &path) const
   {
      std::ofstream f(path, std::ios::binary);
      f << serialize();
   }
};

} // namespace hepsift::testing

#endif
