// Score a tree with an ONNX model inside RDataFrame and write the scores with Snapshot.
//
//   root -l -b -q 'macros/score_tree.C("in.root","Events","model.onnx","out.root")'
//
// Optional arguments: the score column name (default "score"), a comma-separated list of
// input columns or expressions (default: the feature names stored in the model), and the
// number of threads (0: single-threaded). The output tree has every input branch plus the
// score.
//
// ROOT finds hepsift's library and headers through the rootlogon.C of the source folder
// (when run from there), or through `eval "$(hepsift config --env)"` anywhere else.
#ifndef HEPSIFT_LIBRARY_LOADED
R__LOAD_LIBRARY(libhepsift)
#endif
#include <hepsift/Scorer.hxx>

#include <ROOT/RDataFrame.hxx>
#include <TROOT.h>

#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <TSystem.h>

void score_tree_impl(const char *input, const char *tree, const char *modelPath, const char *output, const char *name,
                     const char *inputs, int threads)
{
   if (threads > 0)
      ROOT::EnableImplicitMT(threads);
   auto model = std::make_shared<const hepsift::Model>(modelPath);

   std::vector<std::string> exprs;
   std::stringstream list(inputs);
   for (std::string item; std::getline(list, item, ',');)
      if (!item.empty())
         exprs.push_back(item);
   if (exprs.empty())
      exprs = model->featureNames();
   if (exprs.empty())
      throw hepsift::InputMismatchError(std::string("hepsift: model '") + modelPath +
                                        "' stores no feature names; pass the inputs as the sixth argument");
   if (exprs.size() != model->nFeatures())
      throw hepsift::InputMismatchError(std::string("hepsift: model '") + modelPath + "' takes " +
                                        std::to_string(model->nFeatures()) + " features but " +
                                        std::to_string(exprs.size()) + " inputs were given");

   ROOT::RDataFrame df(tree, input);
   const auto branches = df.GetColumnNames();
   // All inputs in one float vector, so that any column type or expression works here.
   std::string packed = "ROOT::RVecF{";
   for (std::size_t i = 0; i < exprs.size(); ++i)
      packed += (i ? ", static_cast<float>(" : "static_cast<float>(") + exprs[i] + ")";
   packed += "}";
   auto scored = df.Define("__hepsift_features", packed)
                    .DefineSlotEntry(name, hepsift::Scorer<ROOT::RVecF>(model, df.GetNSlots(), {"__hepsift_features"}),
                                     {"__hepsift_features"});
   std::vector<std::string> keep(branches.begin(), branches.end());
   keep.push_back(name);
   auto n = scored.Snapshot(tree, output, keep)->Count();
   std::cout << "hepsift: wrote " << *n << " entries with column '" << name << "' to " << output << std::endl;
}

void score_tree(const char *input, const char *tree, const char *modelPath, const char *output,
                const char *name = "score", const char *inputs = "", int threads = 0)
{
   try {
      score_tree_impl(input, tree, modelPath, output, name, inputs, threads);
   } catch (const std::exception &e) {
      std::cerr << "score_tree: error: " << e.what() << std::endl;
      gSystem->Exit(1);
   }
}
