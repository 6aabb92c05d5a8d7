// Placeholder so the layer library builds before its first real source lands.
namespace fhellm::tokenizer { int tokenizer_layer_placeholder = 0; }
