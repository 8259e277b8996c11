// An RDataFrame program linked through the hepsift::rdf target alone (hepsift + ROOT).
#include <hepsift/Scorer.hxx>

#include <ROOT/RDataFrame.hxx>

#include <iostream>
#include <string>

int main()
{
   ROOT::RDataFrame df(10);
   auto x = df.Define("x", [](ULong64_t i) { return 0.5f * i; }, {"rdfentry_"});
   if (*x.Sum<float>("x") != 22.5f)
      return 2;
   try {
      hepsift::Define<float>(x, "s", nullptr, {"x"});
   } catch (const hepsift::ConfigurationError &e) {
      std::cout << "hepsift::rdf links RDataFrame: " << e.what() << "\n";
      return std::string(e.what()).find("no model given") == std::string::npos ? 3 : 0;
   }
   return 1;
}
