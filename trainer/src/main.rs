fn main() {
    eprintln!("charlstm-train: not built yet");
    std::process::exit(1);
}
