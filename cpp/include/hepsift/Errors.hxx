// hepsift: exception hierarchy of the C++ library.
//
// Error                      base of everything hepsift throws on purpose
//  +- ConfigurationError     wrong set-up, found before any event is evaluated
//  |   +- ModelError         model file missing, not ONNX, unsupported form
//  |   +- InputMismatchError model inputs do not match the columns given
//  |   +- ProviderError      execution provider (CUDA) required but not usable
//  +- EvaluationError        problem met while evaluating events
//      +- NonFiniteInputError  NaN or infinite input (names column and entry)
//
// The Python package maps each class onto the class of the same name in
// hepsift.errors, keeping the message.
#ifndef HEPSIFT_ERRORS_HXX
#define HEPSIFT_ERRORS_HXX

#include <stdexcept>
#include <string>

namespace hepsift {

class Error : public std::runtime_error {
public:
   using std::runtime_error::runtime_error;
};

class ConfigurationError : public Error {
public:
   using Error::Error;
};

class ModelError : public ConfigurationError {
public:
   using ConfigurationError::ConfigurationError;
};

class InputMismatchError : public ConfigurationError {
public:
   using ConfigurationError::ConfigurationError;
};

class ProviderError : public ConfigurationError {
public:
   using ConfigurationError::ConfigurationError;
};

class EvaluationError : public Error {
public:
   using Error::Error;
};

class NonFiniteInputError : public EvaluationError {
public:
   using EvaluationError::EvaluationError;
};

} // namespace hepsift

#endif
