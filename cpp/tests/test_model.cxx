// ctest: hepsift::Model without ROOT or Python.
#include "Check.hxx"
#include "OnnxWriter.hxx"

#include "hepsift/Model.hxx"

#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using hepsift::testing::LinearModel;

static std::string tmpPath(const std::string &name)
{
   return std::string(HEPSIFT_TEST_TMPDIR) + "/" + name;
}

int main()
{
   // --- a model with metadata ------------------------------------------------------
   LinearModel lin(3, 1);
   lin.metadata = {{"hepsift.features", "[\"a\", \"b\", \"c\\\"q\"]"},
                   {"hepsift.kind", "classifier"},
                   {"hepsift.version", "9.9.9"}};
   const std::string path = tmpPath("linear.onnx");
   lin.write(path);

   hepsift::Model model(path);
   HS_CHECK(model.nFeatures() == 3);
   HS_CHECK(model.nScores() == 1);
   HS_CHECK(model.inputNames() == std::vector<std::string>{"x"});
   HS_CHECK(model.outputNames() == std::vector<std::string>{"y"});
   HS_CHECK(model.inputShapes().at(0) == (std::vector<std::int64_t>{-1, 3}));
   HS_CHECK(model.featureNames() == (std::vector<std::string>{"a", "b", "c\"q"}));
   HS_CHECK(model.kind() == "classifier");
   HS_CHECK(model.hepsiftVersion() == "9.9.9");
   HS_CHECK(model.provider() == "cpu");
   HS_CHECK(!hepsift::onnxRuntimeVersion().empty());

   // Batch evaluation against the reference computed here.
   const std::size_t n = 1000;
   std::vector<float> x(n * 3);
   for (std::size_t i = 0; i < x.size(); ++i)
      x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * 3.0);
   std::vector<float> y(n, -1.f);
   model.evaluate(x.data(), n, y.data());
   double worst = 0;
   for (std::size_t e = 0; e < n; ++e) {
      auto ref = lin.reference({x[3 * e], x[3 * e + 1], x[3 * e + 2]});
      worst = std::max(worst, std::fabs(ref[0] - y[e]));
   }
   HS_CHECK_CLOSE(worst, 0.0, 1e-6);
   HS_CHECK(model.evaluate(std::vector<float>(x.begin(), x.begin() + 6)).size() == 2);
   HS_CHECK_THROWS(model.evaluate(std::vector<float>(4, 0.f)), hepsift::InputMismatchError, "multiple");

   // Workspaces: full and partial batches give the same numbers as evaluate().
   auto ws = model.makeWorkspace(64);
   std::copy(x.begin(), x.begin() + 64 * 3, ws.input());
   model.run(ws, 64);
   HS_CHECK_CLOSE(ws.output()[63], y[63], 1e-7);
   model.run(ws, 10);
   HS_CHECK_CLOSE(ws.output()[9], y[9], 1e-7);
   HS_CHECK_THROWS(model.run(ws, 65), hepsift::EvaluationError, "capacity");

   // One model, four threads, each with its own workspace.
   std::vector<double> threadWorst(4, 1.0);
   std::vector<std::thread> pool;
   for (int t = 0; t < 4; ++t)
      pool.emplace_back([&, t] {
         auto w = model.makeWorkspace(1);
         double bad = 0;
         for (std::size_t e = static_cast<std::size_t>(t); e < n; e += 4) {
            std::copy(x.begin() + 3 * e, x.begin() + 3 * e + 3, w.input());
            model.run(w, 1);
            bad = std::max(bad, static_cast<double>(std::fabs(w.output()[0] - y[e])));
         }
         threadWorst[t] = bad;
      });
   for (auto &th : pool)
      th.join();
   for (double w : threadWorst)
      HS_CHECK_CLOSE(w, 0.0, 1e-7);

   // --- several scores ------------------------------------------------------------
   LinearModel multi(4, 3);
   multi.write(tmpPath("multi.onnx"));
   hepsift::Model mm(tmpPath("multi.onnx"));
   HS_CHECK(mm.nScores() == 3);
   HS_CHECK(mm.featureNames().empty());
   HS_CHECK(mm.kind().empty());
   auto out = mm.evaluate({0.5f, -1.f, 2.f, 0.f});
   auto ref = multi.reference({0.5, -1, 2, 0});
   HS_CHECK(out.size() == 3);
   for (int j = 0; j < 3; ++j)
      HS_CHECK_CLOSE(out[j], ref[j], 1e-6);

   // --- errors ----------------------------------------------------------------------
   HS_CHECK_THROWS(hepsift::Model(tmpPath("nope.onnx")), hepsift::ModelError, "does not exist");
   {
      std::ofstream junk(tmpPath("junk.onnx"));
      junk << "this is not an ONNX model";
   }
   HS_CHECK_THROWS(hepsift::Model(tmpPath("junk.onnx")), hepsift::ModelError, "cannot load");
   HS_CHECK_THROWS(hepsift::Model(HEPSIFT_TEST_TMPDIR), hepsift::ModelError, "not a regular file");

   LinearModel intModel(3, 1);
   intModel.inputType = hepsift::testing::kInt64;
   intModel.write(tmpPath("int_input.onnx"));
   HS_CHECK_THROWS(hepsift::Model(tmpPath("int_input.onnx")), hepsift::ModelError, "element type int64");

   LinearModel two(3, 1);
   two.twoInputs = true;
   two.write(tmpPath("two_inputs.onnx"));
   HS_CHECK_THROWS(hepsift::Model(tmpPath("two_inputs.onnx")), hepsift::ModelError, "2 inputs (x, extra)");

   LinearModel wrongMeta(3, 1);
   wrongMeta.metadata = {{"hepsift.features", "[\"a\", \"b\"]"}};
   wrongMeta.write(tmpPath("wrong_meta.onnx"));
   HS_CHECK_THROWS(hepsift::Model(tmpPath("wrong_meta.onnx")), hepsift::ModelError, "lists 2 feature names");

   hepsift::ModelOptions badOutput;
   badOutput.output = "nothere";
   HS_CHECK_THROWS(hepsift::Model(path, badOutput), hepsift::ModelError, "no output 'nothere'");

   // CUDA: on a machine without a usable CUDA provider, a clear error, or a fallback on request.
   bool hasCuda = false;
   for (auto &p : hepsift::availableProviders())
      hasCuda |= p == "CUDAExecutionProvider";
   hepsift::ModelOptions cuda;
   cuda.provider = "cuda";
   if (!hasCuda) {
      HS_CHECK_THROWS(hepsift::Model(path, cuda), hepsift::ProviderError, "'cuda' was requested");
      cuda.allowFallback = true;
      hepsift::Model fallback(path, cuda);
      HS_CHECK(fallback.provider() == "cpu");
   }
   hepsift::ModelOptions weird;
   weird.provider = "tpu";
   HS_CHECK_THROWS(hepsift::Model(path, weird), hepsift::ProviderError, "unknown execution provider 'tpu'");

   return HS_REPORT();
}
